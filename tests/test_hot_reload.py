"""Hot reload: a version pushed while clients loop is served without a restart or one failed
request; folders not named by digits are ignored; a version that fails to load changes nothing.

Each test serves its own copy of the fixture model's pushed version, so the shared folder is
never written to.
"""

from __future__ import annotations

import shutil
import threading
import time
from typing import Callable

import grpc
import numpy as np
import pytest
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import tensor_proto
from serving.client import Article, RestClient
from serving.grpc_client import GrpcClient
from serving.server import LocalModelServer
from serving.version_folders import list_versions

POLL_SECONDS = 0.2
# How long to wait for a version's state to change: a load replays the version's warmup
# requests (serving/warmup.py), seconds on a busy two-core machine. A bound on the wait, not a
# speed requirement.
STATUS_DEADLINE_SECONDS = 60
ARTICLE = Article("Hot reload", "A. Reporter", "A new model version was pushed while this request ran.")


@pytest.fixture
def served(fixture_model, tmp_path):
    """(server, its model base folder, the version it serves): a copy of the pushed version."""
    pushed = list_versions(fixture_model.serving_base)
    version = max(pushed)
    base = tmp_path / "serving" / fixture_model.model_name
    shutil.copytree(pushed[version], base / str(version))
    with LocalModelServer(str(base), fixture_model.model_name, rest_port=0, grpc_port=0,
                          poll_seconds=POLL_SECONDS) as server:
        yield server, base, version


class _ClientLoop(threading.Thread):
    """A client predicting one article again and again, alternating REST and gRPC, until
    stopped (at most max_requests times); records failures and which version answered gRPC.
    It pauses briefly between requests, like a client with other work, rather than saturate
    the two CPUs the new version has to load on."""

    def __init__(self, server: LocalModelServer, max_requests: int = 5_000, pause_seconds: float = 0.01):
        super().__init__(daemon=True)
        self.server, self.max_requests, self.pause_seconds = server, max_requests, pause_seconds
        self.stopping = threading.Event()
        self.succeeded = 0
        self.failures: list[str] = []
        self.grpc_versions: list[int] = []

    def run(self) -> None:
        # The raw stub rather than GrpcClient: its response says which version answered.
        request = predict_pb2.PredictRequest()
        request.model_spec.name = self.server.model_name
        for field in ("title", "author", "text"):
            value = np.array([getattr(ARTICLE, field).encode()], dtype=object)
            request.inputs[field].CopyFrom(tensor_proto.array_to_proto(value))
        with RestClient(self.server.rest_url, self.server.model_name, timeout=30) as rest, \
                grpc.insecure_channel(self.server.grpc_target) as channel:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            calls = [lambda: rest.predict([ARTICLE]),
                     lambda: self.grpc_versions.append(stub.Predict(request, timeout=30).model_spec.version.value)]
            for number in range(self.max_requests):
                if self.stopping.wait(self.pause_seconds):
                    return
                try:
                    calls[number % 2]()
                    self.succeeded += 1
                except Exception as error:  # Any failure at all is what this test looks for.
                    self.failures.append(f"{type(error).__name__}: {error}")

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


def _wait_for(condition: Callable[[], object], deadline_seconds: float) -> float | None:
    """Seconds until condition() held, or None if it did not within the deadline."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if condition():
            return time.monotonic() - started
        time.sleep(0.1)
    return None


def _states(server: LocalModelServer) -> dict[int, str]:
    with RestClient(server.rest_url, server.model_name) as client:
        return {status.version: status.state for status in client.status()}


def test_a_pushed_version_is_served_without_restart_or_failed_requests(served):
    server, base, old = served
    client = _ClientLoop(server)
    client.start()
    time.sleep(1)  # Requests in flight before the push, too.
    held = server.store.servable(server.model_name, None)  # What a request running at the swap holds.

    new = old + 1
    shutil.copytree(base / str(old), base / str(new))  # In place, not renamed in: the harder case.
    seconds = _wait_for(lambda: _states(server).get(new) == "AVAILABLE", STATUS_DEADLINE_SECONDS)
    answered_by_new = _wait_for(lambda: client.grpc_versions and client.grpc_versions[-1] == new, 5)
    client.stop()

    assert seconds is not None, f"version {new} not AVAILABLE within {STATUS_DEADLINE_SECONDS} s of the push"
    assert answered_by_new is not None, "no gRPC response came from the new version"
    assert client.failures == [], f"{len(client.failures)} of {client.succeeded + len(client.failures)} failed"
    assert client.succeeded > 0 and set(client.grpc_versions) == {old, new}
    assert _states(server) == {new: "AVAILABLE", old: "END"}
    # A request that got the old version before the swap still completes on it.
    row = {name: np.array([getattr(ARTICLE, name).encode()], dtype=object) for name in ("title", "author", "text")}
    assert held.version == old and held.signature("").run(row)["probability"].shape == (1,)


def test_folders_not_named_by_digits_are_ignored(served):
    server, base, old = served
    for name in (f"{old + 5}.tmp", f".{old + 6}", "latest"):  # E.g. a push not yet renamed into place.
        shutil.copytree(base / str(old), base / name)
    time.sleep(5 * POLL_SECONDS)
    assert _states(server) == {old: "AVAILABLE"}
    assert server.store.current.version == old


def test_a_version_that_fails_to_load_leaves_the_current_one_serving(served):
    server, base, old = served
    broken = base / str(old + 1)
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
    seconds = _wait_for(lambda: _states(server).get(old + 1) == "END", STATUS_DEADLINE_SECONDS)
    assert seconds is not None, "the broken version was never tried"
    with GrpcClient(server.grpc_target, server.model_name) as client:
        [broken_status, old_status] = client.status()
        assert (broken_status.version, broken_status.state) == (old + 1, "END") and broken_status.error_message
        assert (old_status.version, old_status.state) == (old, "AVAILABLE")
        assert len(client.predict([ARTICLE])) == 1
    assert server.store.current.version == old


@pytest.mark.filterwarnings("ignore:Unexpected end-group tag")  # Parsing the half-copied file.
def test_a_broken_version_is_retried_once_its_folder_changes(served):
    """A folder copied in place can be seen half-written; the finished copy must load."""
    server, base, old = served
    new = base / str(old + 1)
    new.mkdir()
    (new / "saved_model.pb").write_bytes(b"half-copied")
    assert _wait_for(lambda: _states(server).get(old + 1) == "END", STATUS_DEADLINE_SECONDS) is not None
    shutil.copytree(base / str(old), new, dirs_exist_ok=True)  # The copy completes.
    assert _wait_for(lambda: _states(server).get(old + 1) == "AVAILABLE", STATUS_DEADLINE_SECONDS) is not None
    with RestClient(server.rest_url, server.model_name) as client:
        assert len(client.predict([ARTICLE])) == 1
