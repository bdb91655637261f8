"""Peak memory of the input checks against input size: they stream, so a 1 GB CSV should need
about what a 100 MB one does (issue 14: within 20 %). Writes bench/results/input_memory.json.

Each size is a CSV of the articles schema, the real articles repeated with fresh ids, generated
into a temporary folder and deleted afterwards. Each measurement is a fresh process (peak RSS
from os.wait4): the in-DAG check (components/checked_csv_example_gen.py's executor on Beam's
DirectRunner, writing the examples), the checks alone in Beam (its CheckedCsvToExample transform,
the examples counted, not written: the DirectRunner holds a PCollection in memory before a step
with a side input, as Beam's file writer has, so the writing grows with the input there, not on a
distributed runner) and the local pre-check (pipeline.input_check.check_and_stage).

    python bench/bench_input_memory.py --sizes-mb 100 1000
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import pathlib
import platform
import shutil
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

RESULTS = REPO / "bench" / "results" / "input_memory.json"
MODES = ("checks", "dag", "local")


def generate(target: pathlib.Path, megabytes: int) -> int:
    """Writes about `megabytes` MB of articles with unique ids into target; returns the rows."""
    from tests.data import canonical_path

    with canonical_path("articles.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        articles = [[row["title"], row["author"], row["text"], row["label"]] for row in reader]
    rows = 0
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "author", "text", "label"])
        while f.tell() < megabytes * 1_000_000:
            for article in articles:
                writer.writerow([f"b{rows}", *article])
                rows += 1
    return rows


def child(mode: str, data: str, out: str) -> None:
    """One measurement, in this (fresh) process."""
    if mode == "checks":
        import apache_beam as beam

        from components import checked_csv_example_gen
        from tests.test_checked_example_gen import exec_properties

        with beam.Pipeline() as pipeline:
            _ = (pipeline
                 | checked_csv_example_gen.CheckedCsvToExample(exec_properties(pathlib.Path(data), True), "*")
                 | beam.combiners.Count.Globally())
    elif mode == "dag":
        from tests.test_checked_example_gen import run_executor

        run_executor(pathlib.Path(data), pathlib.Path(out), drop_invalid=True)
    else:
        from pipeline.input_check import check_and_stage

        check_and_stage(data, out, drop_invalid=True)


def measure(mode: str, data: pathlib.Path, out: pathlib.Path) -> dict:
    from child_usage import run_child  # bench/, this script's folder

    used = run_child([sys.executable, __file__, "--child", mode, str(data), str(out)])
    if used.status:
        raise SystemExit(f"error: the {mode} check failed on {data} (status {used.status})")
    return {"peak_rss_mb": round(used.peak_rss_mb, 1), "seconds": round(used.seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    results = []
    for megabytes in args.sizes_mb:
        work = pathlib.Path(tempfile.mkdtemp(prefix="fakenews-bench-input-"))
        try:
            (work / "data").mkdir()
            data = work / "data" / "articles.csv"
            rows = generate(data, megabytes)
            entry = {"size_mb": round(data.stat().st_size / 1e6), "rows": rows}
            for mode in args.modes:
                entry[mode] = measure(mode, work / "data", work / f"out-{mode}")
                print(json.dumps({"size_mb": entry["size_mb"], mode: entry[mode]}), flush=True)
            results.append(entry)
        finally:
            shutil.rmtree(work)
    RESULTS.write_text(json.dumps({
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "results": results,
    }, indent=2) + "\n")
    print(RESULTS.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
