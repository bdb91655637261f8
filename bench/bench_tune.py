"""Benchmark: does `--tune` (TFX's Tuner over the preset's sizes) find a better model?

Steps, on one data file:
  1. the wide-deep pipeline run whose Transform output every step trains on (bench_models.py's
     step 1; --reuse-run trains on the one an earlier run left in --output);
  2. the pipeline's own search (components/tuning.py's `searcher`, as the Tuner's tuner_fn builds
     it) with --trials trials capped at --epochs epochs each; the first trial is the preset;
     each trial's values and validation log loss (the train split's validation slice, L2
     penalties left out: the search's objective);
  3. the best trial's values trained as the Trainer would (the preset's epochs), and the
     untuned preset the same way, same seed: each one's validation log loss and, on the eval split,
     F1 (fake), macro F1, accuracy, AUC at its stored threshold. --best-from takes the best
     values of an earlier results file instead of searching again, and --seeds trains both
     with other seeds.

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
import tempfile
import time


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
    return {
        "validation_log_loss": result.validation_log_loss,  # The search's objective (components/tuning.py).
        "validation_loss": result.validation_loss,  # With the L2 penalties.
        "best_epoch": result.best_epoch,
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
    parser.add_argument("--best-from", metavar="JSON", help="skip step 2: the best values of this earlier results file")
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="step 3's seeds (default: the preset's)")
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
        if args.best_from:
            report["best_from"] = args.best_from
            best = json.loads(pathlib.Path(args.best_from).read_text(encoding="utf-8"))["best"]
        else:
            best = search(preset, args, splits, os.path.join(scratch, "tuner"), report)
            write()
            print(json.dumps(report, indent=2, default=float), flush=True)
        if args.no_final:
            return
        for seed in args.seeds or [preset.seed]:
            seeded = dataclasses.replace(preset, seed=seed)
            for name, hparams in (("tuned", search_space.apply(seeded, best)), ("preset", seeded)):
                key = f"{name}_full" if seed == preset.seed else f"{name}_full_seed_{seed}"
                report[key] = train_and_score(hparams, splits, os.path.join(scratch, f"{name}-{seed}"))
                write()
                print(key, report[key], flush=True)


def search(preset: Hyperparameters, args: argparse.Namespace, splits: bench_models.Splits, directory: str,
           report: dict) -> dict:
    """Step 2: the search's trials into `report`; returns the best values."""
    started = time.perf_counter()
    capped = dataclasses.replace(preset, epochs=args.epochs or preset.epochs)
    tuner = tuning.searcher(capped, splits.train_transformed, args.trials, directory)
    tuner.search()
    report["search_seconds"] = time.perf_counter() - started
    trials = sorted(tuner.oracle.trials.values(), key=lambda trial: trial.trial_id)
    report["trial_results"] = [{"trial": t.trial_id, "status": t.status, tuning.OBJECTIVE: t.score,
                                **t.hyperparameters.values} for t in trials]
    best = tuner.get_best_hyperparameters()[0].values
    report["best"] = best
    report[f"best_{tuning.OBJECTIVE}"] = best_score = min(t.score for t in trials if t.score is not None)
    report[f"preset_trial_{tuning.OBJECTIVE}"] = trials[0].score  # Trial 0 is the preset, same cap.
    report["best_is_preset"] = bool(best_score == trials[0].score)
    return best


if __name__ == "__main__":
    main()
