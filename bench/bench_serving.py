"""Serving latency and throughput, one run: in process, over REST and over gRPC.

  single article  p50 / p99 latency of one-article requests, cycling through real articles
  batch of 64     articles per second over batches of 64 articles

in-process runs the SavedModel's serving_default signature as TF Serving does, fed and
fetched in a Session (serving.servable, the local server's core); rest-api adds
the local server's own work, in process: its REST handler (JSON in and out, input checks,
tensor conversion) without HTTP; rest and grpc go through serving.client /
serving.grpc_client to `fakenews serve`, started as its own process so client and server do
not share a GIL. All are measured interleaved, request by request, so a busy machine slows
them alike. Writes bench/results/serving.json and prints a table.

    python bench/bench_serving.py --model-base runs/local/serving/fakenews

--baseline-model-base adds "in-process baseline": another model's newest version run the
same way, interleaved with the rest, for a before/after of an export change on one busy
machine (e.g. the same trained weights exported by the old and the new code).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import pathlib
import platform
import sys
import tempfile
import time
from typing import Callable, Sequence

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
from serving import settings  # noqa: E402

# The in-process and REST-handler paths run here: the same TensorFlow settings as `fakenews serve`.
settings.apply_serving_environment()

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from serving import batching, tensors  # noqa: E402
from serving.client import Article, RestClient  # noqa: E402
from serving.grpc_client import GrpcClient  # noqa: E402
from serving.model_store import ModelStore  # noqa: E402
from serving.rest import RestApi  # noqa: E402
from serving.servable import Servable  # noqa: E402
from serving.version_folders import list_versions  # noqa: E402
from tests.data import read_rows  # noqa: E402
from tests.serving_load import serve  # noqa: E402  (`fakenews serve` on ports it picks itself)

RESULTS = REPO / "bench" / "results" / "serving.json"
WARM_UP_CALLS = 5

Predict = Callable[[Sequence[Article]], object]


def _in_process(model_dir: str) -> Predict:
    signature = Servable(model_dir, version=0, max_batch=batching.max_batch_size()).signature("")

    def predict(articles: Sequence[Article]) -> object:
        return signature.run(tensors.instances_to_arrays([dataclasses.asdict(a) for a in articles], signature.inputs))

    return predict


def _rest_api(store: ModelStore) -> Predict:
    api = RestApi(store)
    path = f"/v1/models/{store.model_name}:predict"

    def predict(articles: Sequence[Article]) -> object:
        body = {"instances": [dataclasses.asdict(a) for a in articles]}
        status, response = api.handle("POST", path, json.dumps(body).encode())
        if status != 200:
            raise SystemExit(f"the REST handler failed: {response.decode()}")
        return response

    return predict


def _measure(predictors: dict[str, Predict], batches: list[list[Article]]) -> dict[str, list[float]]:
    """Seconds per call of each predictor, on each batch in turn, interleaved."""
    for predict in predictors.values():
        for _ in range(WARM_UP_CALLS):
            predict(batches[0])
    seconds: dict[str, list[float]] = {name: [] for name in predictors}
    for batch in batches:
        for name, predict in predictors.items():
            started = time.perf_counter()
            predict(batch)
            seconds[name].append(time.perf_counter() - started)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", required=True, help="the Pusher's <run output>/serving/<model name>")
    parser.add_argument("--model-name", default="fakenews")
    parser.add_argument("--requests", type=int, default=300, help="single-article requests (default: %(default)s)")
    parser.add_argument("--batches", type=int, default=20, help="batches of --batch-size (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--baseline-model-base", help="also run this model base's newest version in process")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()

    versions = list_versions(args.model_base)
    if not versions:
        raise SystemExit(f"no version folder in {args.model_base}")
    baseline_versions = list_versions(args.baseline_model_base) if args.baseline_model_base else {}
    if args.baseline_model_base and not baseline_versions:
        raise SystemExit(f"no version folder in {args.baseline_model_base}")
    rows = read_rows("articles.csv", limit=max(args.requests, args.batches * args.batch_size))
    articles = [Article(row["title"], row["author"], row["text"]) for row in rows]
    singles = [[articles[i % len(articles)]] for i in range(args.requests)]
    batches = [articles[i * args.batch_size:(i + 1) * args.batch_size] for i in range(args.batches)]
    load_before = os.getloadavg()

    store = ModelStore(args.model_base, args.model_name, max_batch=batching.max_batch_size(), poll_seconds=3600)
    with tempfile.TemporaryDirectory() as scratch, \
            serve(args.model_base, args.model_name, log=pathlib.Path(scratch) / "serve.log") as server:
        try:
            store.start()
            with RestClient(server.rest_url, args.model_name) as rest, \
                    GrpcClient(server.grpc_target, args.model_name) as grpc_client:
                predictors: dict[str, Predict] = {
                    "in-process": _in_process(versions[max(versions)]),
                    "rest-api": _rest_api(store),
                    "rest": rest.predict,
                    "grpc": grpc_client.predict,
                }
                if baseline_versions:
                    predictors["in-process baseline"] = _in_process(baseline_versions[max(baseline_versions)])
                single = _measure(predictors, singles)
                batched = _measure(predictors, batches)
        finally:
            store.stop()

    results = {
        name: {
            "single_p50_ms": round(float(np.percentile(single[name], 50)) * 1000, 2),
            "single_p99_ms": round(float(np.percentile(single[name], 99)) * 1000, 2),
            f"batch{args.batch_size}_articles_per_s": round(args.batch_size * len(batches) / sum(batched[name]), 1),
        }
        for name in predictors
    }
    report = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "tensorflow": tf.__version__, "load_average_before": [round(x, 2) for x in load_before]},
        "model": {"base": os.path.abspath(args.model_base), "version": max(versions)},
        **({"baseline_model": {"base": os.path.abspath(args.baseline_model_base),
                               "version": max(baseline_versions)}} if baseline_versions else {}),
        "settings": {"single_requests": args.requests, "batches": args.batches, "batch_size": args.batch_size},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    print(f"| path | single p50 (ms) | single p99 (ms) | batch-{args.batch_size} (articles/s) |")
    print("|---|---:|---:|---:|")
    for name, figures in results.items():
        print(f"| {name} | {figures['single_p50_ms']} | {figures['single_p99_ms']} | "
              f"{figures[f'batch{args.batch_size}_articles_per_s']} |")
    print(f"\n{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before the run; written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
