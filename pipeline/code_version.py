"""A fingerprint of the module code that components import by path.

TFX's cache keys on a component's inputs and properties, not on the code behind an import
path: edit `preprocessing/` and re-run, and the old Transform would be reused. Passing this
fingerprint as a property makes a code change invalidate exactly the components that run it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import pathlib


@functools.lru_cache(maxsize=None)
def source_fingerprint(*packages: str) -> str:
    """sha256 (16 hex digits) over the .py files of the packages, by relative path and bytes."""
    digest = hashlib.sha256()
    for package in sorted(packages):
        root = pathlib.Path(importlib.import_module(package).__file__).parent
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(root.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
