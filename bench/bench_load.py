"""Serving under load, full size: the scenario of tests/serving_load.py (predicts from
concurrent clients, REST and gRPC mixed, then malformed requests interleaved with valid ones,
against `fakenews serve` on loopback) at 10,000 requests. Writes bench/results/load.json.
tests/test_serving_load.py runs the same code at CI scale.

    python bench/bench_load.py --model-base runs/local/serving/fakenews   # 10,000 requests, 8 clients
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import sys

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tests.serving_load import measure, real_articles  # noqa: E402

RESULTS = REPO / "bench" / "results" / "load.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", required=True, help="the Pusher's <run output>/serving/<model name>")
    parser.add_argument("--model-name", default="fakenews")
    parser.add_argument("--requests", type=int, default=10_000, help="(default: %(default)s)")
    parser.add_argument("--clients", type=int, default=8, help="(default: %(default)s)")
    parser.add_argument("--malformed", type=int, default=200, help="(default: %(default)s)")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS)
    args = parser.parse_args()

    load_before = os.getloadavg()
    figures = measure(args.model_base, real_articles(), args.requests, args.clients, args.malformed, args.model_name)
    report = {
        "when": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "load_average_before": [round(x, 2) for x in load_before]},
        "model_base": os.path.abspath(args.model_base),
        **figures,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

    load, bad, rss = figures["load"], figures["malformed"], figures["server_rss_mb"]
    print(f"{load['requests']:,} requests, {load['clients']} clients (REST and gRPC alternating): "
          f"{load['errors']} errors, {load['requests_per_s']} requests/s")
    for name in ("all", "rest", "grpc"):
        print(f"  {name:>4} latency ms: " + ", ".join(f"{k} {v}" for k, v in load[f"{name}_ms"].items()))
    print(f"{bad['malformed']} malformed requests: all 4xx: {bad['all_4xx']}; "
          f"valid ones in between failed: {bad['valid_errors']}")
    print(f"server RSS: {rss['before']} MB before, {rss['after_malformed']} MB after "
          f"(growth {rss['growth']} MB); healthy after: {figures['healthy_after']}")
    print(f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before; written to {args.out}")
    ok = load["errors"] == 0 and bad["all_4xx"] and bad["valid_errors"] == 0 and figures["healthy_after"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
