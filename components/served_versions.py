"""The versions a model server would load from a base folder, read through TFX's file I/O so
the folder may be local or in a bucket: what the Pusher pushes beside, and what the baseline
(components/baseline.py) compares with. The rule itself is TF Serving's, in
serving/version_folders.py."""

from __future__ import annotations

from tfx.dsl.io import fileio

from serving.version_folders import version_number


def served_versions(base_directory: str) -> list[int]:
    """Version numbers a model server would load, ascending."""
    if not fileio.exists(base_directory):
        return []
    return sorted(number for name in fileio.listdir(base_directory) if (number := version_number(name)) is not None)
