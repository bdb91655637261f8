"""The floors import one way: preprocessing <- components <- pipeline <- kubeflow and the CLI;
serving stands apart. No import goes up a floor and no modules import each other in a circle,
counting imports inside functions (read from the source, as pipeline.code_version reads them)."""

from __future__ import annotations

import pathlib

from pipeline import code_version

ROOT = pathlib.Path(code_version.__file__).resolve().parent.parent
# Each package, and the project packages it must not import.
FORBIDDEN = {
    "preprocessing": {"components", "pipeline", "kubeflow", "serving", "fakenews"},
    "components": {"pipeline", "kubeflow", "fakenews"},
    "serving": {"preprocessing", "components", "pipeline", "kubeflow", "fakenews"},
    "pipeline": {"kubeflow", "serving", "fakenews"},
    "kubeflow": {"fakenews"},
    "fakenews": set(),
}


def project_modules() -> dict[str, pathlib.Path]:
    modules = {}
    for package in code_version.PROJECT_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def import_graph() -> dict[str, set[str]]:
    return {module: code_version.imported_modules(module, path, ROOT) for module, path in project_modules().items()}


def test_every_project_package_has_its_rule():
    assert FORBIDDEN.keys() == code_version.PROJECT_PACKAGES


def test_no_import_goes_up_a_floor():
    upward = sorted(f"{module} imports {target}" for module, targets in import_graph().items()
                    for target in targets if target.split(".")[0] in FORBIDDEN[module.split(".")[0]])
    assert not upward


def test_no_circular_imports():
    graph = import_graph()
    # A package's __init__ is imported by its modules; edges into a parent package are real
    # imports too, so they stay in the graph.
    state: dict[str, str] = {}
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if target == module:
                continue
            if state.get(target) == "open":
                cycles.append(" -> ".join(path[path.index(target):] + [target]) if target in path else target)
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles


def test_the_checker_sees_a_function_level_import():
    # components.report.component imports its writer inside the component function.
    assert "components.report.writer" in import_graph()["components.report.component"]
