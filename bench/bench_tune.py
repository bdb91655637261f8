"""Benchmark: does `--tune` (TFX's Tuner over the preset's sizes) find a better model?

Steps, on one data file:
  1. the wide-deep pipeline run whose Transform output every step trains on (bench_models.py's
     step 1; --reuse-run trains on the one an earlier run left in --output);
  2. the pipeline's own search (components/tuning.py's `searcher`, as the Tuner's tuner_fn builds
     it) with --trials trials capped at --epochs epochs each; the first trial is the preset;
     each trial's values and lowest validation loss (the train split's validation slice);
  3. the best trial's values trained as the Trainer would (the preset's epochs), and the
     untuned preset the same way, same seed: each one's validation loss and, on the eval split,
     F1 (fake), macro F1, accuracy, AUC at its stored threshold.

Run from the repository root:
    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_tune.py
Writes bench/results/tune.json after every step.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

import bench_models  # noqa: E402  (bench/, this script's folder; it puts the repository on sys.path)
from bench_models import REPO_ROOT, classification_metrics, load_splits, raw_columns, score_model  # noqa: E402
from components import search_space, signatures, trainer, tuning  # noqa: E402
from components.hyperparameters import PRESETS, Hyperparameters  # noqa: E402
from pipeline import local_runner  # noqa: E402
from pipeline.config import DEFAULT_TUNE_TRIALS, PipelineConfig  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from tests.data import canonical_path  # noqa: E402


def train_and_score(hparams: Hyperparameters, splits: bench_models.Splits, export_dir: str) -> dict:
    started = time.perf_counter()
    result = trainer.train(hparams, splits.train_transformed, verbose=2)
    seconds = time.perf_counter() - started
    signatures.export(result.model, splits.tf_transform_output, result.threshold, export_dir,
                      trim_padding=hparams.mask_padding)
    probabilities, predicted = score_model(export_dir, splits.eval_raw)
    val_loss = result.history["val_loss"]
    return {
        "validation_loss": float(np.min(val_loss)),
        "best_epoch": int(np.argmin(val_loss)) + 1,
        "epochs_run": len(result.epoch_seconds),
        "train_seconds": seconds,
        "threshold": result.threshold,
        **classification_metrics(raw_columns(splits.eval_raw)[1], probabilities, predicted),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=str(canonical_path("articles.csv")))
    parser.add_argument("--preset", default="wide-deep", choices=list(PRESETS))
    parser.add_argument("--trials", type=int, default=DEFAULT_TUNE_TRIALS)
    parser.add_argument("--epochs", type=int, default=None, help="each trial's epoch cap (default: the preset's)")
    parser.add_argument("--reuse-run", action="store_true",
                        help="train on the Transform output of an earlier wide-deep run in --output")
    parser.add_argument("--no-final", action="store_true", help="skip step 3 (the full trainings and eval figures)")
    parser.add_argument("--output", default=str(REPO_ROOT / "runs" / "bench_tune"))
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results" / "tune.json"))
    args = parser.parse_args()

    folder = RunFolder(args.output)
    if not (args.reuse_run and os.path.exists(folder.metadata_path)):
        local_runner.run(PipelineConfig(enable_cache=False, hyperparameters=PRESETS["wide-deep"]), args.data, folder)
    splits = load_splits(folder)
    preset = PRESETS[args.preset]
    report: dict = {"data": args.data, "transform_of_run": args.output, "preset": args.preset,
                    "trials": args.trials, "trial_epochs": args.epochs, "seed": preset.seed,
                    "search_space": {k: list(v) for k, v in search_space.search_space(preset).items()}}
    results = pathlib.Path(args.results)
    results.parent.mkdir(parents=True, exist_ok=True)

    def write() -> None:
        results.write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")

    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        capped = dataclasses.replace(preset, epochs=args.epochs or preset.epochs)
        search = tuning.searcher(capped, splits.train_transformed, args.trials, os.path.join(scratch, "tuner"))
        search.search()
        report["search_seconds"] = time.perf_counter() - started
        trials = sorted(search.oracle.trials.values(), key=lambda trial: trial.trial_id)
        report["trial_results"] = [{"trial": t.trial_id, "status": t.status, "val_loss": t.score,
                                    **t.hyperparameters.values} for t in trials]
        best = search.get_best_hyperparameters()[0].values
        report["best"] = best
        report["best_val_loss"] = trials_score = min(t.score for t in trials if t.score is not None)
        report["preset_trial_val_loss"] = trials[0].score  # Trial 0 is the preset, same cap.
        report["best_is_preset"] = bool(trials_score == trials[0].score)
        write()
        print(json.dumps(report, indent=2, default=float), flush=True)
        if args.no_final:
            return
        report["tuned_full"] = train_and_score(search_space.apply(preset, best), splits, os.path.join(scratch, "tuned"))
        write()
        print("tuned", report["tuned_full"], flush=True)
        report["preset_full"] = train_and_score(preset, splits, os.path.join(scratch, "preset"))
        write()
        print("preset", report["preset_full"], flush=True)


if __name__ == "__main__":
    main()
