"""Atomic, idempotent pushes: a version folder appears complete or not at all."""

from __future__ import annotations

import os

import pytest

from components.served_versions import served_versions
from components import pusher


def make_model(path, fingerprint: bytes) -> str:
    os.makedirs(os.path.join(path, "variables"))
    for name, content in (("saved_model.pb", b"graph"), ("fingerprint.pb", fingerprint),
                          ("variables/variables.index", b"index")):
        with open(os.path.join(path, name), "wb") as f:
            f.write(content)
    return str(path)


def test_push_creates_a_numeric_version_and_no_leftovers(tmp_path):
    model = make_model(tmp_path / "model", b"A")
    path, version, copied = pusher.push_atomically(model, str(tmp_path / "serving"))
    assert copied and version.isdigit() and path == str(tmp_path / "serving" / version)
    assert os.listdir(tmp_path / "serving") == [version]
    assert sorted(os.listdir(path)) == ["fingerprint.pb", "saved_model.pb", "variables"]


def test_same_model_is_not_pushed_twice_and_a_new_one_gets_a_higher_version(tmp_path):
    base = str(tmp_path / "serving")
    first = pusher.push_atomically(make_model(tmp_path / "a", b"A"), base)
    again = pusher.push_atomically(make_model(tmp_path / "a2", b"A"), base)
    assert again == (first[0], first[1], False)
    second = pusher.push_atomically(make_model(tmp_path / "b", b"B"), base)
    assert second[2] and int(second[1]) > int(first[1])  # Even within the same second.
    assert served_versions(base) == [int(first[1]), int(second[1])]


def test_a_crash_mid_copy_leaves_no_loadable_version(tmp_path, monkeypatch):
    base = str(tmp_path / "serving")
    model = make_model(tmp_path / "model", b"A")
    real_copy_file = pusher.io_utils.fileio.copy
    copied: list[str] = []

    def crash_after_first_file(src, dst, overwrite=False):
        if copied:
            raise OSError("disk full (simulated crash mid-copy)")
        copied.append(dst)
        real_copy_file(src, dst, overwrite)

    monkeypatch.setattr(pusher.io_utils.fileio, "copy", crash_after_first_file)
    with pytest.raises(OSError, match="simulated"):
        pusher.push_atomically(model, base)
    leftovers = os.listdir(base)
    assert copied and leftovers and all(name.startswith(pusher.STAGING_PREFIX) for name in leftovers)
    assert served_versions(base) == []  # Nothing a model server would load.
