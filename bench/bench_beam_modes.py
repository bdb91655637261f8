"""Benchmark: Beam DirectRunner in_memory vs multi_processing, the whole pipeline, one run each.

Both runs use the same data, model and epochs, with the cache off, in fresh output folders;
the Beam components' wall times (ExampleGen, StatisticsGen, Transform, Evaluator) are what
the mode changes. The project's default (pipeline/config.py DEFAULT_BEAM_ARGS) follows this.

    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_beam_modes.py [--data CSV] [--rows N]
Writes bench/results/beam_modes.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from pipeline import local_runner  # noqa: E402
from components.hyperparameters import hyperparameters_for  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from tests.conftest import write_sample  # noqa: E402

MODES = {
    "in_memory": ("--direct_running_mode=in_memory", "--direct_num_workers=1"),
    "multi_processing": ("--direct_running_mode=multi_processing", "--direct_num_workers=0"),
}
BEAM_COMPONENTS = ("CsvExampleGen", "StatisticsGen", "Transform", "Evaluator")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=6_859, help="rows of articles.csv (default: all)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results" / "beam_modes.json"))
    args = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory() as work:
        data = write_sample(pathlib.Path(work) / "data" / "articles.csv", rows=args.rows)
        for mode, beam_args in MODES.items():
            config = PipelineConfig(beam_args=beam_args, hyperparameters=hyperparameters_for(epochs=args.epochs),
                                    enable_cache=False)
            started = time.perf_counter()
            durations = local_runner.run(config, str(data), RunFolder(os.path.join(work, mode)))
            results[mode] = {"total_seconds": time.perf_counter() - started, "components": durations,
                             "beam_components_seconds": sum(durations.get(c, 0.0) for c in BEAM_COMPONENTS)}
    report = {"rows": args.rows, "epochs": args.epochs, "load_average_at_end": os.getloadavg(), "results": results}
    pathlib.Path(args.results).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print("| mode | " + " | ".join(BEAM_COMPONENTS) + " | Beam components | whole run |")
    print("|---|" + "---:|" * (len(BEAM_COMPONENTS) + 2))
    for mode, r in results.items():
        cells = " | ".join(f"{r['components'].get(c, 0.0):.0f} s" for c in BEAM_COMPONENTS)
        print(f"| {mode} | {cells} | {r['beam_components_seconds']:.0f} s | {r['total_seconds']:.0f} s |")


if __name__ == "__main__":
    main()
