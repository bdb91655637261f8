"""Who imports what, read from the source with ast (nothing is imported to check it).

serving/'s clients stand apart from the local stand-in server: no client imports server code,
directly or through a shared module; what both need is in modules of neither side, which import
neither side. The modules that state a contract for code outside serving (settings, the
version-folder rule, VersionStatus) use only the standard library. Tests do not import bench
scripts (bench imports tests' harness, not the other way round).
"""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

from tests.data import REPO_ROOT

SERVING = REPO_ROOT / "serving"
CLIENT = {"client", "grpc_client"}
SERVER = {"errors", "batching", "tensors", "servable", "model_store", "responses", "rest", "grpc_service", "server",
          "warmup"}
SHARED = {"settings", "version_folders", "version_status", "tensor_proto", "warmup_file", "explanations"}
STDLIB_ONLY = {"settings", "version_folders", "version_status", "warmup_file", "explanations"}


def _imports(path: pathlib.Path) -> set[str]:
    """Every module path.py imports, anywhere in it (function-level imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from serving import tensors` imports the module serving.tensors.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _serving_imports(module: str) -> set[str]:
    return {name.split(".")[1] for name in _imports(SERVING / f"{module}.py")
            if name.startswith("serving.") and (SERVING / f"{name.split('.')[1]}.py").exists()}


def _closure(modules: set[str]) -> set[str]:
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_serving_imports(module))
    return seen


def test_every_serving_module_is_on_one_side():
    modules = {path.stem for path in SERVING.glob("*.py")} - {"__init__"}
    assert modules == CLIENT | SERVER | SHARED, "classify each new serving module in this test"
    assert not (CLIENT & SERVER or CLIENT & SHARED or SERVER & SHARED)


def test_no_client_imports_server_code_even_through_a_shared_module():
    reached = _closure(CLIENT)
    assert not reached & SERVER, f"clients reach server modules {sorted(reached & SERVER)}"


def test_shared_modules_belong_to_neither_side():
    for module in SHARED:
        assert not _serving_imports(module) & (CLIENT | SERVER), module


def test_the_server_does_not_import_the_clients():
    assert not _closure(SERVER) & CLIENT


@pytest.mark.parametrize("module", sorted(STDLIB_ONLY))
def test_contract_modules_use_only_the_standard_library(module):
    top_level = {name.split(".")[0] for name in _imports(SERVING / f"{module}.py")}
    foreign = {name for name in top_level - {"__future__", "serving"} if name not in sys.stdlib_module_names}
    assert not foreign, f"serving/{module}.py imports {sorted(foreign)}"
    assert _serving_imports(module) <= STDLIB_ONLY


def test_the_version_folder_rule_and_ports_are_imported_not_restated():
    assert "serving.version_folders" in _imports(REPO_ROOT / "components" / "served_versions.py")
    assert "components.served_versions" in _imports(REPO_ROOT / "components" / "pusher.py")
    assert "serving.version_folders" in _imports(SERVING / "model_store.py")
    manifests = (REPO_ROOT / "kubeflow" / "manifests.py").read_text(encoding="utf-8")
    assert "serving.settings" in _imports(REPO_ROOT / "kubeflow" / "manifests.py")
    assert "8500" not in manifests and "8501" not in manifests


def test_tests_do_not_import_bench_scripts():
    for path in sorted((REPO_ROOT / "tests").rglob("*.py")):
        bench = {name for name in _imports(path) if name == "bench" or name.startswith("bench.")}
        assert not bench, f"{path.relative_to(REPO_ROOT)} imports {sorted(bench)}"
