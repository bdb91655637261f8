"""Atomic push, seen from a model server: a version folder is visible only once complete.

The Pusher (components/pusher.py) copies into `.pushing-<version>-<id>` beside the versions and
renames it to `<version>` when the copy is done. Model servers load only folders named by
digits: TF Serving's file-system source parses each sub-folder name as an int64 version and
skips the rest, and the local server (serving/model_store.py) follows the same rule. So a crash
mid-copy leaves a folder no server loads. Shown here with the real pushed model and the local
server, whose polls the test drives itself (no sleeps, no timing).
"""

from __future__ import annotations

import os
import pathlib
import re
import shutil

import pytest

from components.served_versions import served_versions
from components import pusher
from serving.client import Article, RestClient
from serving.server import LocalModelServer
from serving.version_folders import list_versions
from serving.version_status import AVAILABLE, END

TF_SERVING_VERSION_NAME = re.compile(r"[0-9]+")  # What TF Serving's storage path source accepts.
TIMEOUT = 60


def _poll_until_settled(server: LocalModelServer) -> None:
    """Two polls: the local server loads a new folder once its listing is unchanged across two."""
    server.store.poll()
    server.store.poll()


def _states(server: LocalModelServer) -> dict[int, str]:
    with RestClient(server.rest_url, server.model_name, timeout=TIMEOUT) as client:
        return {status.version: status.state for status in client.status()}


def _predicts(server: LocalModelServer) -> bool:
    with RestClient(server.rest_url, server.model_name, timeout=TIMEOUT) as client:
        return len(client.predict([Article(title="Senate passes the budget", text="after a long debate")])) == 1


@pytest.fixture
def serving_base(fixture_model, tmp_path) -> pathlib.Path:
    """A model base holding version 1: the session's pushed model, standing for an older one.

    Its fingerprint.pb is left out so the Pusher cannot tell it is the model about to be
    pushed (it would skip the push as already served); TensorFlow loads it without one.
    """
    base = tmp_path / "serving" / "fakenews"
    shutil.copytree(fixture_model.pushed_path, base / "1",
                    ignore=shutil.ignore_patterns("fingerprint.pb"))
    return base


def _crash_before_the_last_file(monkeypatch, model: str) -> list[str]:
    """Makes the next push fail like a crash before its last file; returns the files copied."""
    total = sum(len(files) for _, _, files in os.walk(model))
    real_copy = pusher.io_utils.fileio.copy
    copied: list[str] = []

    def copy(src: str, dst: str, overwrite: bool = False) -> None:
        if len(copied) == total - 1:
            raise OSError("No space left on device (simulated crash mid-copy)")
        real_copy(src, dst, overwrite)
        copied.append(dst)

    monkeypatch.setattr(pusher.io_utils.fileio, "copy", copy)
    return copied


def test_a_push_that_crashes_mid_copy_is_never_loaded(fixture_model, serving_base, monkeypatch):
    model = fixture_model.pushed_path
    with LocalModelServer(str(serving_base), "fakenews", rest_port=0, grpc_port=0, poll_seconds=3600) as server:
        assert _states(server) == {1: AVAILABLE}

        copied = _crash_before_the_last_file(monkeypatch, model)
        with pytest.raises(OSError, match="simulated crash"):
            pusher.push_atomically(model, str(serving_base))
        monkeypatch.undo()
        leftovers = sorted(set(os.listdir(serving_base)) - {"1"})
        assert len(leftovers) == 1 and leftovers[0].startswith(pusher.STAGING_PREFIX)
        partial = serving_base / leftovers[0]
        assert len(copied) == sum(len(files) for _, _, files in os.walk(model)) - 1  # Almost complete...
        assert not TF_SERVING_VERSION_NAME.fullmatch(leftovers[0])  # ...but no server's version.
        assert list_versions(str(serving_base)) == {1: str(serving_base / "1")}
        assert served_versions(str(serving_base)) == [1]

        _poll_until_settled(server)
        assert _states(server) == {1: AVAILABLE} and _predicts(server)
        # A server started now, as after a restart, sees the same.
        with LocalModelServer(str(serving_base), "fakenews", rest_port=0, grpc_port=0, poll_seconds=3600) as fresh:
            assert _states(fresh) == {1: AVAILABLE}

        # The control: the same push, completed, is renamed into place and loaded at once.
        path, version, copied_again = pusher.push_atomically(model, str(serving_base))
        assert copied_again and int(version) > 1 and path == str(serving_base / version)
        _poll_until_settled(server)
        assert _states(server) == {int(version): AVAILABLE, 1: END} and _predicts(server)
        assert partial.exists()  # The crashed copy is still there, still ignored.


def test_without_the_rename_a_partial_version_folder_is_picked_up(fixture_model, serving_base):
    """Why the rename matters: the same partial copy under a version number (what copying
    straight into <base>/<version>/ leaves after a crash) is taken for a new version. The local
    server then fails to load it and keeps serving version 1; TF Serving would try it too."""
    partial = serving_base / "2"
    partial.mkdir()
    shutil.copy(os.path.join(fixture_model.pushed_path, "saved_model.pb"), partial)  # No variables.
    with LocalModelServer(str(serving_base), "fakenews", rest_port=0, grpc_port=0, poll_seconds=3600) as server:
        _poll_until_settled(server)
        states = _states(server)
        assert states[2] == END and states[1] == AVAILABLE and _predicts(server)
