"""Input limits at serving: too many instances or too big a body gets a clear 4xx, not an
out-of-memory. The local server checks the batch before running the model as TF Serving does
with batching (REST 400, gRPC INVALID_ARGUMENT, TF Serving's message), with max_batch_size read
from a BatchingParameters file as TF Serving's; and, a local guard, the body size before reading
it into memory (REST 413, gRPC RESOURCE_EXHAUSTED), naming the limit and its flag.

Small limits here (8 instances, 64 KiB), so the cases are cheap; the server is the real one,
in this process, on loopback ports, serving the session's pushed model.
"""

from __future__ import annotations

import http.client
import json
import threading
from typing import Iterator

import pytest

from serving.client import Article, ClientError, RestClient
from serving.grpc_client import GrpcClient
from serving.server import LocalModelServer

MAX_BATCH = 8
MAX_BODY_BYTES = 64 * 1024
HUGE_BODY_BYTES = 256 * 1024 * 1024  # Streamed: never held by the test either.
MEMORY_HEADROOM_BYTES = 64 * 1024 * 1024  # Far below the huge body: buffering it would show.
TIMEOUT = 60


@pytest.fixture(scope="module")
def server(fixture_model, tmp_path_factory) -> Iterator[LocalModelServer]:
    batching_file = tmp_path_factory.mktemp("batching") / "batching_parameters.txt"
    batching_file.write_text(f"max_batch_size {{ value: {MAX_BATCH} }}\nnum_batch_threads {{ value: 2 }}\n",
                             encoding="utf-8")
    with LocalModelServer(fixture_model.serving_base, fixture_model.model_name, rest_port=0, grpc_port=0,
                          batching_parameters_file=str(batching_file), max_body_bytes=MAX_BODY_BYTES) as running:
        assert running.max_batch_size == MAX_BATCH
        yield running


@pytest.fixture(params=["rest", "grpc"])
def client(request, server):
    if request.param == "rest":
        made = RestClient(server.rest_url, server.model_name, timeout=TIMEOUT)
    else:
        made = GrpcClient(server.grpc_target, server.model_name, timeout=TIMEOUT)
    with made:
        yield made


def _still_serving(server: LocalModelServer) -> bool:
    with RestClient(server.rest_url, server.model_name, timeout=TIMEOUT) as rest:
        return len(rest.predict([Article(title="still", text="serving")])) == 1


def test_the_maximum_batch_is_served_and_one_more_is_refused(client, server):
    assert len(client.predict([Article(text=f"article {i}") for i in range(MAX_BATCH)])) == MAX_BATCH
    with pytest.raises(ClientError) as raised:
        client.predict([Article(text=f"article {i}") for i in range(MAX_BATCH + 1)])
    assert raised.value.status in (400, "INVALID_ARGUMENT")
    assert f"Task size {MAX_BATCH + 1} is larger than maximum input batch size {MAX_BATCH}" in str(raised.value)
    assert _still_serving(server)


def test_a_body_under_the_limit_is_served_and_one_over_is_refused(client, server):
    # One article whose request is just under, then just over, the limit (the JSON or proto
    # framing adds well under 1 KiB).
    assert len(client.predict([Article(text="w" * (MAX_BODY_BYTES - 1024))])) == 1
    with pytest.raises(ClientError) as raised:
        client.predict([Article(text="w" * (MAX_BODY_BYTES + 1))])
    assert raised.value.status in (413, "RESOURCE_EXHAUSTED")
    if raised.value.status == 413:  # gRPC's own message names the sizes, not our flag.
        assert f"limit of {MAX_BODY_BYTES:,} bytes" in str(raised.value) and "--max-body-bytes" in str(raised.value)
    assert _still_serving(server)


def _rss_bytes() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def test_a_huge_body_is_refused_without_being_held_in_memory(server):
    """256 MiB declared and sent: the server reads and drops it in chunks, then answers 413.
    The process's resident memory, sampled throughout, never grows by a fraction of it."""
    chunk = b" " * (1 << 20)
    peak = baseline = _rss_bytes()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.02):
            peak = max(peak, _rss_bytes())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=TIMEOUT)
    try:
        connection.putrequest("POST", f"/v1/models/{server.model_name}:predict")
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(HUGE_BODY_BYTES))
        connection.endheaders()
        for _ in range(HUGE_BODY_BYTES // len(chunk)):
            connection.send(chunk)
        response = connection.getresponse()
        body = json.loads(response.read())
    finally:
        connection.close()
        done.set()
        sampler.join()
    assert response.status == 413
    assert f"{HUGE_BODY_BYTES:,} bytes exceeds this server's limit of {MAX_BODY_BYTES:,}" in body["error"]
    assert peak - baseline < MEMORY_HEADROOM_BYTES, f"resident memory grew by {(peak - baseline) >> 20} MiB"
    assert _still_serving(server)


@pytest.mark.parametrize("headers, body, status", [
    # No Content-Length: the size is unknown until read, so the server does not read it.
    ({"Transfer-Encoding": "chunked"}, b"5\r\nhello\r\n0\r\n\r\n", 411),
    # Deeply nested JSON inside the size limit: the parser's recursion, not the stack, gives.
    ({}, b"[" * 30_000 + b"]" * 30_000, 400),
    ({"Content-Length": "-1"}, b"", 400),
])
def test_bodies_the_limits_cannot_measure_are_refused(server, headers, body, status):
    connection = http.client.HTTPConnection("127.0.0.1", server.rest_port, timeout=TIMEOUT)
    try:
        connection.putrequest("POST", f"/v1/models/{server.model_name}:predict", skip_accept_encoding=True)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            if not (name == "Content-Length" and "Transfer-Encoding" in headers):
                connection.putheader(name, value)
        connection.endheaders()
        if body and headers.get("Content-Length") != "-1":
            connection.send(body)
        response = connection.getresponse()
        assert response.status == status
        assert json.loads(response.read())["error"].strip()
    finally:
        connection.close()
    assert _still_serving(server)
