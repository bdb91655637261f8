"""A fingerprint of exactly the project code a component runs, for its cache key.

TFX's cache keys on a component's inputs and properties, not on the code behind an import
path: edit `preprocessing/` and re-run, and the old Transform would be reused. Each component
whose code is ours (Transform's preprocessing_fn, the Trainer's run_fn, the EvaluationReport,
the Pusher's executor) carries the fingerprint of its entry module and of every project
module that module imports, directly or not, at module level or inside a function, plus the
data files in those modules' folders (the stopword list). Editing the report's plots then
re-runs only the report, and editing the model re-runs the Trainer (and, through its new
model artifact, what follows it); computed anew by every `create_pipeline` call.

Imports are read from the source (ast), not by importing: a fingerprint needs no TensorFlow,
and a module file is found in the folder that holds the project's packages, which is the
checkout (editable install) or site-packages (the pipeline image) alike.
"""

from __future__ import annotations

import ast
import hashlib
import pathlib

# Top-level packages of this project; imports of anything else are not followed.
PROJECT_PACKAGES = frozenset({"preprocessing", "components", "pipeline", "kubeflow", "serving", "fakenews"})
_SOURCE_ROOT = pathlib.Path(__file__).resolve().parent.parent  # Holds every project package.


def _module_file(root: pathlib.Path, module: str) -> pathlib.Path | None:
    path = root.joinpath(*module.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_modules(module: str, source: pathlib.Path, root: pathlib.Path = _SOURCE_ROOT) -> set[str]:
    """Project modules that `module` imports anywhere in its source, and their parent packages."""
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(source.read_bytes(), filename=str(source))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # Relative: from the module's own package upwards.
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            # `from a.b import c`: c is a submodule or a name defined in a.b.
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PROJECT_PACKAGES and _module_file(root, name):
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def module_closure(entry_module: str, root: pathlib.Path = _SOURCE_ROOT) -> dict[str, pathlib.Path]:
    """The entry module and every project module it imports, transitively: name -> file."""
    pending, files = [entry_module], {}
    parts = entry_module.split(".")
    pending += [".".join(parts[:i]) for i in range(1, len(parts))]  # Its packages' __init__ run too.
    while pending:
        module = pending.pop()
        if module in files:
            continue
        source = _module_file(root, module)
        if source is None:
            raise ModuleNotFoundError(f"no project module {module!r} under {root}")
        files[module] = source
        pending.extend(imported_modules(module, source, root) - files.keys())
    return files


def code_fingerprint(*entry_modules: str, root: pathlib.Path = _SOURCE_ROOT) -> str:
    """sha256 (16 hex digits) over the entry modules' closures and the data files beside them."""
    files = {path for module in entry_modules for path in module_closure(module, root).values()}
    for folder in {path.parent for path in files}:
        files.update(path for path in folder.iterdir()
                     if path.is_file() and path.suffix not in (".py", ".pyc"))
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
