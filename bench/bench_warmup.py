"""The first request after a version loads, with and without TF Serving's warmup requests,
against the steady p50. Writes bench/results/warmup.json.

One pushed model (default: `make run`'s runs/demo/serving/fakenews, its newest version) is
copied twice: with the warmup requests components/warmup.py writes (from real articles of
articles.csv) and without any; `--records N` to try another number of requests. Each copy is loaded in a fresh process by the local server's
loader (serving/servable.py, the way TF Serving loads: a Session over the 'serve' graph),
which replays the requests if there are any; then one request for a median-length article is
timed (the first a client would see), then LATENCY_CALLS more (the steady p50). Repeated
ROUNDS times; medians reported.

    python bench/bench_warmup.py [--model-base runs/demo/serving/fakenews]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = REPO / "bench" / "results" / "warmup.json"
ROUNDS = 3
LATENCY_CALLS = 200
ARTICLES = 2000  # Rows of articles.csv the warmup requests come from; the timed article is of the next ones.


def child(path: str) -> None:
    """In a fresh process: load (and warm up) the version at path, time the first request and the steady ones."""
    import numpy as np

    from bench.timing import call_seconds
    from preprocessing import features
    from serving.servable import Servable
    from tests.data import read_rows

    rows = read_rows("articles.csv", 2 * ARTICLES)[ARTICLES:]  # None of them a warmup request.
    lengths = [sum(len(row[key]) for key in features.TEXT_KEYS) for row in rows]
    median = rows[int(np.argsort(lengths)[len(lengths) // 2])]
    inputs = {key: np.array([median[key].encode("utf-8")], dtype=object) for key in features.TEXT_KEYS}
    start = time.perf_counter()
    servable = Servable(path, 1, max_batch=64)
    records = servable.warm_up()
    load_seconds = time.perf_counter() - start
    signature = servable.signature("")
    first = call_seconds(lambda: signature.run(inputs), 1)[0]
    steady = call_seconds(lambda: signature.run(inputs), LATENCY_CALLS)
    print(json.dumps({"warmup_records": records, "load_s": load_seconds, "first_ms": 1e3 * first,
                      "steady_p50_ms": 1e3 * float(np.percentile(steady, 50))}))


def copies(model_base: pathlib.Path, work: pathlib.Path, records: int) -> dict[str, str]:
    from components import warmup
    from preprocessing import features
    from serving.version_folders import list_versions
    from tests.data import read_rows

    versions = list_versions(str(model_base))
    if not versions:
        raise SystemExit(f"error: no model version under {model_base}; run `make run` first or pass --model-base")
    source = versions[max(versions)]
    paths = {}
    for name in ("with_warmup", "without_warmup"):
        target = work / name / "1"
        shutil.copytree(source, target)
        requests = pathlib.Path(warmup.requests_path(str(target)))
        if requests.exists():
            requests.unlink()
        paths[name] = str(target)
    articles = [{key: row[key] for key in features.TEXT_KEYS} for row in read_rows("articles.csv", ARTICLES)]
    warmup.write(paths["with_warmup"], warmup.prediction_logs(warmup.spread_of_lengths(articles, records)))
    return paths


def main() -> int:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-base", default=str(REPO / "runs" / "demo" / "serving" / "fakenews"))
    parser.add_argument("--records", type=int, default=None, help="warmup requests (default: components/warmup.py's)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    work = pathlib.Path(tempfile.mkdtemp(prefix="fakenews-bench-warmup-"))
    try:
        from components import warmup

        paths = copies(pathlib.Path(args.model_base), work, args.records or warmup.RECORDS)
        runs: dict[str, list[dict]] = {name: [] for name in paths}
        for _ in range(ROUNDS):
            for name, path in paths.items():  # Interleaved, so both see the same machine.
                output = subprocess.run([sys.executable, __file__, "--child", path], check=True,
                                        capture_output=True, text=True).stdout
                runs[name].append(json.loads(output.strip().splitlines()[-1]))
                print(name, runs[name][-1], flush=True)
    finally:
        shutil.rmtree(work)
    summary = {name: {key: float(np.median([run[key] for run in measured])) for key in measured[0]}
               for name, measured in runs.items()}
    RESULTS.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "model_base": args.model_base, "rounds": ROUNDS, "median": summary, "runs": runs,
    }, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
