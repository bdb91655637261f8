"""Benchmark: the drift check's distances on samples of the training source and of another, to
set its thresholds (pipeline/drift.py).

Against a run trained on the first 1,000 articles of articles.csv (the tests' session run:
`fakenews run` with 5 epochs and --min-auc 0.6), for each measure of pipeline.drift.MEASURES:
the distance of every disjoint sample of 200, 400 and 1,000 rows of the other articles of
articles.csv (fresh: the same source, unseen) and of LIAR's statements (liar_binary.csv: a
different source). A threshold must lie above every fresh sample's distance and below every
LIAR sample's.

Run from the repository root (about 3 minutes on 2 cores once the run exists; --run reuses one):
    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_drift_thresholds.py [--run RUN_DIR]
Writes bench/results/drift_thresholds.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from components.input_checks import ArticleColumns, FileSummary, check_file  # noqa: E402
from components.saved_model_scorer import SavedModelScorer  # noqa: E402
from pipeline import drift  # noqa: E402
from pipeline import text_statistics as view  # noqa: E402
from pipeline.lineage import served_model_data  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from tests.conftest import SAMPLE_EPOCHS, SAMPLE_ROWS, write_sample  # noqa: E402
from tests.data import canonical_path  # noqa: E402

SIZES = (200, 400, 1_000)
LIAR_ROWS = 4_000  # Enough for four samples of the largest size.


def train_run(folder: pathlib.Path) -> None:
    """`fakenews run` on the first SAMPLE_ROWS articles, as the tests' session run."""
    data = write_sample(folder / "articles_sample.csv")
    subprocess.run([sys.executable, "-m", "fakenews", "run", "--data", str(data), "--output", str(folder / "run"),
                    "--epochs", str(SAMPLE_EPOCHS), "--min-auc", "0.6"], check=True, cwd=REPO_ROOT)


def checked_rows(name: str, skip: int, count: int) -> list[dict[str, str]]:
    """Rows skip .. skip+count-1 of a canonical file, through the input checks."""
    with canonical_path(name).open("rb") as file:
        rows = check_file(name, file, ArticleColumns(), False, FileSummary())
        return [row for i, row in zip(range(skip + count), rows) if i >= skip]


def distances(rows: list[dict[str, str]], size: int, references, scorer) -> list[dict[str, float]]:
    found = []
    for start in range(0, len(rows) - size + 1, size):
        new = view.statistics(view.rebatched(rows[start:start + size]), scorer)
        found.append({verdict.measure.name: verdict.distance for verdict in drift.compare(new, references)})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", help="a run folder trained as above (default: make one in a temporary folder)")
    parser.add_argument("--out", default=str(REPO_ROOT / "bench" / "results" / "drift_thresholds.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = pathlib.Path(args.run) if args.run else pathlib.Path(tmp) / "run"
        if not args.run:
            train_run(pathlib.Path(tmp))
        served = served_model_data(RunFolder(str(run)), "fakenews")
        scorer = SavedModelScorer(served.model_path)
        references = drift.reference_statistics(served, scorer)
        samples = {"fresh": checked_rows("articles.csv", SAMPLE_ROWS, 10**9),
                   "liar": checked_rows("liar_binary.csv", 0, LIAR_ROWS)}
        results = {"reference_rows": {split: int(stats.datasets[0].num_examples) for split, stats in references.items()},
                   "samples": {}}
        for source, rows in samples.items():
            for size in SIZES:
                found = distances(rows, size, references, scorer)
                results["samples"][f"{source} {size}"] = {
                    "samples": len(found),
                    **{name: {"min": min(d[name] for d in found), "max": max(d[name] for d in found)}
                       for name in found[0]}}
    results["thresholds"] = {measure.name: measure.threshold for measure in drift.MEASURES}
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    print("| measure | " + " | ".join(f"fresh {size} max" for size in SIZES) + " | LIAR min (any size) | threshold |")
    print("|---|" + "---:|" * (len(SIZES) + 2))
    for measure in drift.MEASURES:
        fresh = [results["samples"][f"fresh {size}"][measure.name]["max"] for size in SIZES]
        liar = min(results["samples"][f"liar {size}"][measure.name]["min"] for size in SIZES)
        print(f"| {measure.name} | " + " | ".join(f"{value:.4f}" for value in fresh)
              + f" | {liar:.4f} | {measure.threshold} |")


if __name__ == "__main__":
    main()
