"""The version-folder rule: which sub-folders of a model's base folder are versions.

A model server watches a base folder (the Pusher's <run output>/serving/<model>) and serves
the sub-folders named by ASCII digits only, as version numbers; anything else (the Pusher's
`.pushing-…` staging folder, `README`, `tmp`) is not a version. The Pusher
(components/pusher.py) and the local server's model store both use this rule from here, so
what one writes is what the other reads. Standard library only: the Pusher runs in the
pipeline image and `fakenews serve --help` must not import TensorFlow.
"""

from __future__ import annotations

import os
import re

_VERSION_NAME = re.compile(r"[0-9]+")  # ASCII only: str.isdigit() also accepts '²' and '٣'.
SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")  # What makes a folder a SavedModel.


def version_number(name: str) -> int | None:
    """The version a folder named `name` holds, or None if it is not a version folder."""
    name = name.rstrip("/")  # Object-store listings (tfx fileio on GCS) end folders with '/'.
    return int(name) if _VERSION_NAME.fullmatch(name) else None


def list_versions(base_path: str) -> dict[int, str]:
    """version -> folder, for the sub-folders of a local base_path that are versions."""
    try:
        entries = list(os.scandir(base_path))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    return {number: entry.path for entry in entries
            if (number := version_number(entry.name)) is not None and entry.is_dir()}


def is_saved_model(path: str) -> bool:
    return any(os.path.isfile(os.path.join(path, name)) for name in SAVED_MODEL_FILES)


def misplaced_base(base_path: str) -> str | None:
    """Why base_path is clearly not a model's base folder, in one line, or None.

    A server pointed at the wrong level of the Pusher's layout would wait for ever for a
    version that never appears there: a version folder itself, a SavedModel outside any
    version folder, or a parent of the base folder (e.g. <run output>/serving).
    """
    if not os.path.isdir(base_path):
        return None  # The caller's "does not exist" says it better.
    shown = base_path.rstrip("/") or base_path
    if list_versions(base_path):
        return None
    parent = os.path.dirname(os.path.abspath(shown))
    if version_number(os.path.basename(os.path.abspath(shown))) is not None and is_saved_model(base_path):
        return f"{shown} is a version folder; pass its parent {parent}"
    if is_saved_model(base_path):
        return (f"{shown} is a SavedModel, not a folder of versions; put it in a numbered sub-folder "
                f"(e.g. {os.path.join(shown, '1')}) or pass the Pusher's <run output>/serving/<model>")
    for child in _subfolders(base_path):
        for candidate in (child, *_subfolders(child)):  # Also a run folder: <run>/serving/<model>.
            if _holds_versions(candidate):
                return f"{shown} holds no version folders but {candidate} does; pass that"
    return None


def _holds_versions(path: str) -> bool:
    """Version folders that are SavedModels (a pipeline's numbered execution folders are not)."""
    return any(is_saved_model(folder) for folder in list_versions(path).values())


def _subfolders(path: str) -> list[str]:
    try:
        return sorted(entry.path for entry in os.scandir(path) if entry.is_dir() and not entry.name.startswith("."))
    except OSError:
        return []
