"""The default pipeline at the Kaggle file's size and beyond (issue 17, item 5): wall time per
component, peak memory, eval AUC/F1 and cost per 1,000 articles. Writes bench/results/scale.json
and prints a Markdown table. `--preset` runs another model preset's pipeline instead.

The inputs are Kaggle-shaped (its Fake News schema `id,title,author,text,label`), built into a
temporary folder and deleted afterwards: each row draws a lognormal target length (LOGNORMAL_SIGMA,
its scale calibrated so the texts average TARGET_MEAN_CHARS, the Kaggle file's mean) and joins
whole real articles of articles.csv of one label (each label half the rows, as in the Kaggle
file), drawn at random, until the target is reached;
title and author are the first article's. The rows reuse the 6,859 articles, so an eval row
shares articles with train rows: the AUC is an upper bound on what new articles would give.

Each size is one run of the pipeline (cache off) in a fresh child process, so its peak RSS and
CPU time (os.wait4) are that run's alone.

    python bench/bench_scale.py --rows 5200 20800
    python bench/bench_scale.py --preset linear --rows 20800 104000 --results bench/results/scale_linear.json
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
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from components.hyperparameters import DEFAULT_PRESET, PRESETS  # noqa: E402  (plain Python, no TensorFlow)

RESULTS = REPO / "bench" / "results" / "scale.json"
TARGET_MEAN_CHARS = 4_500  # The Kaggle train.csv's mean text length.
LOGNORMAL_SIGMA = 0.8  # Median about 0.73 of the mean; p99 about 4.7 times the median: a long tail.
SEED = 17


def _texts_by_label() -> dict[str, list[dict[str, str]]]:
    from tests.data import read_rows

    by_label: dict[str, list[dict[str, str]]] = {}
    for row in read_rows("articles.csv"):
        if row["text"]:
            by_label.setdefault(row["label"], []).append(row)
    return by_label


def _joined_rows(rows: int, scale: float, by_label: dict[str, list[dict[str, str]]],
                 rng: np.random.Generator) -> list[list[str]]:
    labels = sorted(by_label)
    out = []
    for index in range(rows):
        label = labels[rng.integers(len(labels))]  # Balanced, as the Kaggle file is (articles.csv: 24 % fake).
        pool = by_label[label]
        target = scale * rng.lognormal(0.0, LOGNORMAL_SIGMA)
        first = pool[rng.integers(len(pool))]
        parts, length = [first["text"]], len(first["text"])
        while length < target:
            text = pool[rng.integers(len(pool))]["text"]
            parts.append(text)
            length += len(text) + 2
        out.append([str(index), first["title"], first["author"], "\n\n".join(parts), label])
    return out


def generate(target: pathlib.Path, rows: int) -> dict[str, float]:
    """Writes `rows` Kaggle-shaped rows into target; returns the texts' length profile."""
    by_label = _texts_by_label()
    # Whole articles overshoot the target by about an article, not in proportion to it: a few
    # calibration passes on a sample bring the texts' mean to the target.
    scale = TARGET_MEAN_CHARS / np.exp(LOGNORMAL_SIGMA ** 2 / 2)
    for _ in range(3):
        sample = _joined_rows(10_000, scale, by_label, np.random.default_rng(SEED + 1))
        scale *= TARGET_MEAN_CHARS / np.mean([len(row[3]) for row in sample])
    data = _joined_rows(rows, scale, by_label, np.random.default_rng(SEED))
    with target.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "title", "author", "text", "label"])
        writer.writerows(data)
    lengths = np.array([len(row[3]) for row in data])
    return {"mean_chars": round(float(lengths.mean())), "median_chars": round(float(np.median(lengths))),
            "p90_chars": round(float(np.percentile(lengths, 90))), "p99_chars": round(float(np.percentile(lengths, 99))),
            "max_chars": int(lengths.max()), "fake_fraction": round(float(np.mean([row[4] == "1" for row in data])), 3),
            "file_mb": round(target.stat().st_size / 1e6, 1)}


def child(data: str, output: str, figures: str, preset: str) -> None:
    """One pipeline run of `preset`, in this (fresh) process; its figures go to the JSON file `figures`."""
    from components import training_summary
    from components.hyperparameters import hyperparameters_for
    from pipeline import local_runner
    from pipeline import pipeline as dag
    from pipeline.config import PIPELINE_NAME, PipelineConfig
    from pipeline.run_folder import RunFolder
    from pipeline.summary import collect, latest_run_outputs

    folder = RunFolder(output)
    started = time.monotonic()
    config = PipelineConfig(enable_cache=False, hyperparameters=hyperparameters_for(preset))
    durations = local_runner.run(config, data, folder)
    seconds = time.monotonic() - started
    summary = collect(folder.metadata_path, PIPELINE_NAME, durations)
    _, outputs = latest_run_outputs(folder.metadata_path, PIPELINE_NAME)
    training = training_summary.read(outputs[dag.TRAINER]["model_run"][0].uri)
    overall = summary.overall_metrics
    pathlib.Path(figures).write_text(json.dumps({
        "seconds": round(seconds, 1),
        "components": {node: round(s, 1) for node, s in durations.items()},
        "split_rows": summary.split_rows,
        "eval_auc": overall.get("auc"),
        "eval_f1": overall.get("f1_score"),
        "blessed": summary.blessed,
        "epochs_run": training["epochs_run"],
        "epoch_seconds": [round(s, 1) for s in training["epoch_seconds"]],
    }))


def measure(data: pathlib.Path, work: pathlib.Path, rows: int, preset: str) -> dict:
    from child_usage import run_child  # bench/, this script's folder

    figures = work / "figures.json"
    used = run_child([sys.executable, __file__, "--child", str(data), str(work / "run"), str(figures), preset])
    if used.status:
        raise SystemExit(f"error: the pipeline run on {rows} rows failed (status {used.status}); "
                         f"log: {work / 'run' / 'run.log'}")
    result = json.loads(figures.read_text())
    return {**result, "peak_rss_mb": round(used.peak_rss_mb), "cpu_seconds": round(used.cpu_seconds, 1),
            "wall_s_per_1000": round(1000 * result["seconds"] / rows, 1),
            "cpu_s_per_1000": round(1000 * used.cpu_seconds / rows, 1)}


def markdown_table(results: list[dict]) -> str:
    lines = ["| rows | mean / median / p90 / p99 chars | wall s | ExampleGen s | Transform s | Trainer s (epochs) |"
             " Evaluator s | EvaluationReport s | peak RSS GB | wall s / 1,000 | CPU s / 1,000 | eval AUC | eval F1 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        p, c = r["profile"], r["components"]
        lines.append(
            f"| {r['rows']:,} | {p['mean_chars']:,} / {p['median_chars']:,} / {p['p90_chars']:,} / {p['p99_chars']:,} | "
            f"{r['seconds']:.0f} | {c.get('CsvExampleGen', 0):.0f} | {c.get('Transform', 0):.0f} | "
            f"{c.get('Trainer', 0):.0f} ({r['epochs_run']}) | {c.get('Evaluator', 0):.0f} | {c.get('EvaluationReport', 0):.0f} | "
            f"{r['peak_rss_mb'] / 1024:.1f} | {r['wall_s_per_1000']:.1f} | {r['cpu_s_per_1000']:.1f} | "
            f"{r['eval_auc']:.4f} | {r['eval_f1']:.4f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[5200, 20800, 104000])
    parser.add_argument("--results", type=pathlib.Path, default=RESULTS, help="JSON file to write (default: %(default)s)")
    parser.add_argument("--preset", default=DEFAULT_PRESET, choices=tuple(PRESETS),
                        help="the model preset the pipeline trains (default: %(default)s, the pipeline's)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    results = []
    for rows in args.rows:
        work = pathlib.Path(tempfile.mkdtemp(prefix="fakenews-bench-scale-"))
        try:
            (work / "data").mkdir()
            data = work / "data" / "train.csv"
            profile = generate(data, rows)
            print(json.dumps({"rows": rows, "profile": profile}), flush=True)
            results.append({"rows": rows, "profile": profile, **measure(data, work, rows, args.preset)})
            print(json.dumps(results[-1]), flush=True)
        finally:
            shutil.rmtree(work)
        # Written after each size, so a long size that does not finish leaves the others.
        args.results.write_text(json.dumps({
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
            "preset": args.preset,
            "input": {"target_mean_chars": TARGET_MEAN_CHARS, "lognormal_sigma": LOGNORMAL_SIGMA, "seed": SEED,
                      "source": "articles.csv, whole articles of one label joined"},
            "results": results,
        }, indent=2) + "\n")
    print(markdown_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
