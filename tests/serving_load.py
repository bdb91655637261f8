"""The serving load scenario, shared by tests/test_serving_load.py (CI scale) and
bench/bench_load.py (full size): predicts from concurrent clients, REST and gRPC mixed, then
malformed requests interleaved with valid ones, against `fakenews serve` on loopback.

The server runs as its own process (as in production, and so its resident memory is its own);
each client is a thread with one REST and one gRPC connection, alternating between them, in a
bounded loop. Measured: latency p50/p99 per protocol, errors, the server's resident memory
before and after, the status of every malformed request, and whether the server still serves.
Test-only code (not shipped in a runtime package); `serve` also starts the server for
bench/bench_serving.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
from typing import Callable, Iterator, Sequence

import grpc
import numpy as np
import requests
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from serving import batching, tensor_proto
from serving.client import Article, ClientError, RestClient
from serving.grpc_client import GrpcClient
from serving.rest import HTTP_STATUS
from tests.data import REPO_ROOT, read_rows

SERVER_START_SECONDS = 240  # TensorFlow's import and the model's load, on a busy machine.
SERVER_STOP_SECONDS = 30
REQUEST_TIMEOUT_SECONDS = 60.0
WARM_UP_REQUESTS = 4  # Per client and protocol, before the memory baseline.
# One more row than production's batching file allows (`fakenews serve` reads the same file).
TOO_MANY_INSTANCES = batching.max_batch_size() + 1


# --- The server process -----------------------------------------------------------------

@dataclasses.dataclass
class Server:
    process: subprocess.Popen
    rest_url: str
    grpc_target: str
    model: str

    def rss_bytes(self) -> int:
        """The server process's resident memory, from /proc (Linux)."""
        with open(f"/proc/{self.process.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(f"no VmRSS for process {self.process.pid}")


@contextlib.contextmanager
def serve(model_base: str, model: str = "fakenews", log: pathlib.Path | None = None) -> Iterator[Server]:
    """`fakenews serve` on ports the kernel picks (read back from its banner), until exit.

    Port 0 rather than a port probed free beforehand: the server takes ~20 s to import
    TensorFlow, long enough for another process on a shared machine to take a probed port.
    """
    command = [sys.executable, "-m", "fakenews", "serve", "--model-base", model_base, "--model-name", model,
               "--rest-port", "0", "--grpc-port", "0"]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=log.open("w") if log else subprocess.DEVNULL, text=True)
    try:
        rest_url, grpc_target = _read_banner(process)
        server = Server(process, rest_url, grpc_target, model)
        threading.Thread(target=process.stdout.read, daemon=True).start()  # Keep the pipe drained.
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=SERVER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _read_banner(process: subprocess.Popen) -> tuple[str, str]:
    """(REST base URL, gRPC target) from `fakenews serve`'s start-up lines."""
    found: dict[str, str] = {}
    timer = threading.Timer(SERVER_START_SECONDS, process.kill)  # Bounds the blocking reads.
    timer.start()
    try:
        for line in process.stdout:
            if match := re.match(r"\s+REST\s+(http://[^/\s]+)", line):
                found["rest"] = match.group(1)
            elif match := re.match(r"\s+gRPC\s+(\S+)", line):
                found["grpc"] = match.group(1)
            if len(found) == 2:
                return found["rest"], found["grpc"]
    finally:
        timer.cancel()
    raise RuntimeError(f"fakenews serve exited ({process.poll()}) or gave no ports within {SERVER_START_SECONDS} s")


# --- Valid load ---------------------------------------------------------------------------

@dataclasses.dataclass
class LoadResult:
    requests: int
    clients: int
    seconds: float
    latencies_ms: dict[str, list[float]]  # protocol -> one entry per successful request
    errors: list[str]  # one line per failed request

    def summary(self) -> dict[str, object]:
        every = [ms for values in self.latencies_ms.values() for ms in values]
        return {
            "requests": self.requests,
            "clients": self.clients,
            "errors": len(self.errors),
            "first_errors": self.errors[:5],
            "requests_per_s": round(self.requests / self.seconds, 1),
            **{f"{name}_ms": _percentiles(values) for name, values in {"all": every, **self.latencies_ms}.items()},
        }


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {}
    return {f"p{q}": round(float(np.percentile(values, q)), 2) for q in (50, 90, 99)} | {
        "max": round(max(values), 2)}


def _check(predictions: list, article: Article) -> None:
    if len(predictions) != 1 or not 0.0 <= predictions[0].probability <= 1.0:
        raise ClientError(f"bad answer for {article.title[:40]!r}: {predictions}")


def run_load(server: Server, articles: Sequence[Article], requests_total: int, clients: int) -> LoadResult:
    """requests_total one-article predicts, split over `clients` threads, each alternating REST
    and gRPC; all threads start together after a short warm-up."""
    per_client = [requests_total // clients + (i < requests_total % clients) for i in range(clients)]
    latencies: dict[str, list[float]] = {"rest": [], "grpc": []}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)

    def client(index: int) -> None:
        with RestClient(server.rest_url, server.model, timeout=REQUEST_TIMEOUT_SECONDS) as rest, \
                GrpcClient(server.grpc_target, server.model, timeout=REQUEST_TIMEOUT_SECONDS) as grpc_client:
            protocols = {"rest": rest.predict, "grpc": grpc_client.predict}
            for _ in range(WARM_UP_REQUESTS):
                for predict in protocols.values():
                    predict([articles[index % len(articles)]])
            start.wait()
            mine: dict[str, list[float]] = {"rest": [], "grpc": []}
            failed: list[str] = []
            for n in range(per_client[index]):
                name = ("rest", "grpc")[(index + n) % 2]
                article = articles[(index * 7919 + n) % len(articles)]
                began = time.perf_counter()
                try:
                    _check(protocols[name]([article]), article)
                except ClientError as error:
                    failed.append(f"{name}: {error}")
                    continue
                mine[name].append((time.perf_counter() - began) * 1000)
        with lock:
            for name, values in mine.items():
                latencies[name].extend(values)
            errors.extend(failed)

    threads = [threading.Thread(target=client, args=(i,), name=f"load-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait(timeout=SERVER_START_SECONDS)
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return LoadResult(requests_total, clients, time.perf_counter() - began, latencies, errors)


# --- Malformed requests -------------------------------------------------------------------

MALFORMED_REST: dict[str, Callable[[str], tuple[str, str, bytes]]] = {
    # case -> (model URL -> (method, URL, body))
    "invalid JSON": lambda url: ("POST", f"{url}:predict", b'{"instances": [{"title": '),
    "empty body": lambda url: ("POST", f"{url}:predict", b""),
    "not UTF-8": lambda url: ("POST", f"{url}:predict", b'{"instances": ["\xff\xfe"]}'),
    "not an object": lambda url: ("POST", f"{url}:predict", b"[1, 2, 3]"),
    "no instances": lambda url: ("POST", f"{url}:predict", b'{"signature_name": "serving_default"}'),
    "unknown input": lambda url: ("POST", f"{url}:predict", b'{"instances": [{"headline": "x"}]}'),
    "number for text": lambda url: ("POST", f"{url}:predict",
                                    b'{"instances": [{"title": 1, "author": 2, "text": 3}]}'),
    "unknown signature": lambda url: ("POST", f"{url}:predict",
                                      b'{"signature_name": "nope", "instances": [{"title": "", "author": "", "text": ""}]}'),
    "unknown model": lambda url: ("POST", f"{url.rsplit('/', 1)[0]}/no-such-model:predict",
                                  b'{"instances": [{"title": "", "author": "", "text": ""}]}'),
    "unknown version": lambda url: ("POST", f"{url}/versions/999999999:predict",
                                    b'{"instances": [{"title": "", "author": "", "text": ""}]}'),
    "too many instances": lambda url: ("POST", f"{url}:predict", json.dumps(
        {"instances": [{"title": "", "author": "", "text": ""}] * TOO_MANY_INSTANCES}).encode()),
    "unknown verb": lambda url: ("POST", f"{url}:explain", b"{}"),
}


def _proto_request(model: str, inputs: dict[str, np.ndarray], signature: str = "") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tensor_proto.array_to_proto(array))
    return request


def _strings(*values: str) -> np.ndarray:
    return np.array([value.encode() for value in values], dtype=object)


MALFORMED_GRPC: dict[str, Callable[[str], predict_pb2.PredictRequest]] = {
    "no inputs": lambda model: _proto_request(model, {}),
    "float for text": lambda model: _proto_request(
        model, {"title": _strings(""), "author": _strings(""), "text": np.array([1.5], dtype=np.float32)}),
    "rows differ": lambda model: _proto_request(
        model, {"title": _strings("a", "b"), "author": _strings(""), "text": _strings("")}),
    "unknown signature": lambda model: _proto_request(
        model, {"title": _strings(""), "author": _strings(""), "text": _strings("")}, "nope"),
    "unknown model": lambda model: _proto_request(
        "no-such-model", {"title": _strings(""), "author": _strings(""), "text": _strings("")}),
}


@dataclasses.dataclass
class MalformedResult:
    statuses: dict[str, list[int]]  # case -> HTTP status of each attempt (gRPC codes mapped as TF Serving does)
    valid_errors: list[str]  # failures of the valid requests sent in between

    def summary(self) -> dict[str, object]:
        every = [status for values in self.statuses.values() for status in values]
        return {
            "malformed": len(every),
            "all_4xx": all(400 <= status < 500 for status in every),
            "statuses": {case: sorted(set(values)) for case, values in self.statuses.items()},
            "valid_in_between": len(every),
            "valid_errors": len(self.valid_errors),
        }


def run_malformed(server: Server, articles: Sequence[Article], count: int, clients: int) -> MalformedResult:
    """`count` malformed requests, cycling through every REST and gRPC case, each followed by a
    valid request on the same connection, split over `clients` threads."""
    cases = [("rest", name) for name in MALFORMED_REST] + [("grpc", name) for name in MALFORMED_GRPC]
    statuses: dict[str, list[int]] = {f"{kind} {name}": [] for kind, name in cases}
    valid_errors: list[str] = []
    lock = threading.Lock()
    model_url = f"{server.rest_url}/v1/models/{server.model}"

    def client(index: int) -> None:
        seen: list[tuple[str, int]] = []
        failed: list[str] = []
        with requests.Session() as session, grpc.insecure_channel(server.grpc_target) as channel, \
                RestClient(server.rest_url, server.model, timeout=REQUEST_TIMEOUT_SECONDS) as rest:
            stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
            for n in range(index, count, clients):
                kind, name = cases[n % len(cases)]
                if kind == "rest":
                    method, url, body = MALFORMED_REST[name](model_url)
                    response = session.request(method, url, data=body, timeout=REQUEST_TIMEOUT_SECONDS,
                                               headers={"Content-Type": "application/json"})
                    status = response.status_code
                else:
                    try:
                        stub.Predict(MALFORMED_GRPC[name](server.model), timeout=REQUEST_TIMEOUT_SECONDS)
                        status = 200
                    except grpc.RpcError as error:
                        status = HTTP_STATUS.get(error.code(), 500)
                seen.append((f"{kind} {name}", status))
                article = articles[n % len(articles)]
                try:
                    _check(rest.predict([article]), article)
                except ClientError as error:
                    failed.append(str(error))
        with lock:
            for case, status in seen:
                statuses[case].append(status)
            valid_errors.extend(failed)

    threads = [threading.Thread(target=client, args=(i,), name=f"malformed-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return MalformedResult(statuses, valid_errors)


def healthy(server: Server, article: Article) -> bool:
    """Alive, its version AVAILABLE, and answering a predict on both APIs."""
    if server.process.poll() is not None:
        return False
    try:
        with RestClient(server.rest_url, server.model, timeout=REQUEST_TIMEOUT_SECONDS) as rest, \
                GrpcClient(server.grpc_target, server.model, timeout=REQUEST_TIMEOUT_SECONDS) as grpc_client:
            return (any(status.state == "AVAILABLE" for status in rest.status())
                    and len(rest.predict([article])) == len(grpc_client.predict([article])) == 1)
    except ClientError:
        return False


def measure(model_base: str, articles: Sequence[Article], requests_total: int, clients: int,
            malformed: int, model: str = "fakenews", log: pathlib.Path | None = None) -> dict[str, object]:
    """The whole scenario against a fresh server process; returns the figures."""
    with serve(model_base, model, log) as server:
        run_load(server, articles, clients * 2, clients)  # Warm every code path before the baseline.
        rss_before = server.rss_bytes()
        load = run_load(server, articles, requests_total, clients)
        rss_after_load = server.rss_bytes()
        bad = run_malformed(server, articles, malformed, clients)
        rss_after = server.rss_bytes()
        return {
            "load": load.summary(),
            "malformed": bad.summary(),
            "server_rss_mb": {
                "before": round(rss_before / 2**20, 1),
                "after_load": round(rss_after_load / 2**20, 1),
                "after_malformed": round(rss_after / 2**20, 1),
                "growth": round((max(rss_after_load, rss_after) - rss_before) / 2**20, 1),
            },
            "healthy_after": healthy(server, articles[0]),
        }


def real_articles(limit: int = 500) -> list[Article]:
    """Real articles of every length, from the shared data set (tests/data.py)."""
    return [Article(row["title"], row["author"], row["text"]) for row in read_rows("articles.csv", limit=limit)]
