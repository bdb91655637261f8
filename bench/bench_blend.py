"""Benchmark: does the LSTM add anything to the linear model? (issue 15)

For each seed, `linear` and `improved` are trained apart by the pipeline's own
`components.trainer.train` on the Transform output a `bench_models.py` run left (run it first;
this reads `runs/bench_models/<data stem>`), and scored on the train split's validation slice
and, through each exported `predict_examples`, on the eval split. Then:

- blends: sigmoid(w * linear's logit + (1 - w) * improved's logit) for a few w, and a logistic
  regression over the two logits fitted on the validation slice (stacking); each at the
  threshold `decision_threshold.choose_threshold` picks on the validation slice, as the Trainer
  does;
- the best accuracy any threshold reaches on the eval split, per model: an oracle, chosen on
  the eval split itself, so an upper bound on what a threshold rule could give, not a result.

    python bench/bench_blend.py --data ../shared/data/canonical/articles.csv
Writes bench/results/blend.json and prints a table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import tempfile

import numpy as np

import bench_models  # noqa: E402  (bench/, this script's folder; it puts the repository on sys.path)
from bench_models import REPO_ROOT, classification_metrics, load_splits, raw_columns, score_model  # noqa: E402
from components import decision_threshold, signatures, trainer  # noqa: E402
from components.hyperparameters import Hyperparameters, hyperparameters_for  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

WEIGHTS = (0.5, 0.6, 0.7, 0.8)  # On linear's logit.
EPSILON = 1e-7


def _logit(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities, EPSILON, 1 - EPSILON)
    return np.log(p / (1 - p))


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-logits))


def validation_scores(result: trainer.TrainingResult, hparams: Hyperparameters,
                      splits: bench_models.Splits) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) of the validation slice, in the slice's order (no length buckets)."""
    _, validation = trainer.split_train_validation(splits.train_transformed, hparams.validation_fraction)
    return trainer.scores(result.model, validation, dataclasses.replace(hparams, bucket_by_length=False))


def _at_chosen_threshold(validation: tuple[np.ndarray, np.ndarray], eval_probabilities: np.ndarray,
                         eval_labels: np.ndarray) -> dict[str, float]:
    threshold, _ = decision_threshold.choose_threshold(validation[1], validation[0])
    predicted = (eval_probabilities >= threshold).astype(int)
    return {**classification_metrics(eval_labels, eval_probabilities, predicted), "threshold": threshold}


def oracle_accuracy(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    threshold, accuracy = decision_threshold.best_threshold(labels, probabilities, "accuracy")
    return {"accuracy": accuracy, "threshold": threshold}


def one_seed(seed: int, splits: bench_models.Splits, eval_labels: np.ndarray, exports: str) -> dict:
    scores = {}
    for name in ("linear", "improved"):
        hparams = hyperparameters_for(name, seed=seed)
        result = trainer.train(hparams, splits.train_transformed, verbose=0)
        export_dir = os.path.join(exports, f"{name}-{seed}", "1")
        signatures.export(result.model, splits.tf_transform_output, result.threshold, export_dir,
                          trim_padding=hparams.mask_padding)
        scores[name] = (validation_scores(result, hparams, splits), score_model(export_dir, splits.eval_raw)[0])
    (linear_validation, linear_eval), (improved_validation, improved_eval) = scores["linear"], scores["improved"]
    validation_labels = linear_validation[1]
    row: dict[str, object] = {"seed": seed}
    for name, (validation, eval_probabilities) in scores.items():
        row[name] = _at_chosen_threshold(validation, eval_probabilities, eval_labels)
        row[f"{name}_oracle_accuracy"] = oracle_accuracy(eval_labels, eval_probabilities)
    for weight in WEIGHTS:
        blend = lambda linear, improved: _sigmoid(weight * _logit(linear) + (1 - weight) * _logit(improved))  # noqa: E731
        row[f"blend_w{weight}"] = _at_chosen_threshold(
            (blend(linear_validation[0], improved_validation[0]), validation_labels),
            blend(linear_eval, improved_eval), eval_labels)
    stacking = LogisticRegression().fit(np.c_[_logit(linear_validation[0]), _logit(improved_validation[0])],
                                        validation_labels)
    stacked = lambda linear, improved: stacking.predict_proba(np.c_[_logit(linear), _logit(improved)])[:, 1]  # noqa: E731
    row["stacked"] = {**_at_chosen_threshold((stacked(linear_validation[0], improved_validation[0]), validation_labels),
                                             stacked(linear_eval, improved_eval), eval_labels),
                      "coefficients": stacking.coef_[0].tolist()}
    return row


def summarise(rows: list[dict]) -> dict[str, dict[str, str]]:
    table = {}
    for key in (k for k in rows[0] if k != "seed"):
        for figure in ("f1_fake", "macro_f1", "accuracy", "auc"):
            values = [row[key][figure] for row in rows if figure in row[key]]
            if values:
                spread = np.std(values, ddof=1) if len(values) > 1 else 0.0
                table.setdefault(key, {})[figure] = f"{np.mean(values):.3f} ± {spread:.3f}"
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="the data file a bench_models.py run trained on")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(bench_models.SEEDS))
    parser.add_argument("--runs", default=str(REPO_ROOT / "runs" / "bench_models"))
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results" / "blend.json"))
    args = parser.parse_args()
    folder = RunFolder(os.path.join(args.runs, pathlib.Path(args.data).stem))
    if not os.path.exists(folder.metadata_path):
        raise SystemExit(f"error: no bench_models.py run in {folder.path}; run bench/bench_models.py --data {args.data}")
    splits = load_splits(folder)
    eval_labels = raw_columns(splits.eval_raw)[1]
    with tempfile.TemporaryDirectory() as exports:
        rows = []
        for seed in args.seeds:
            rows.append(one_seed(seed, splits, eval_labels, exports))
            print(json.dumps(rows[-1], default=float), flush=True)
    results = pathlib.Path(args.results)
    report = json.loads(results.read_text()) if results.exists() else {}
    report[pathlib.Path(args.data).name] = {"seeds": args.seeds, "runs": rows, "mean_std": summarise(rows)}
    results.write_text(json.dumps(report, indent=2, default=float) + "\n", encoding="utf-8")
    for key, figures in report[pathlib.Path(args.data).name]["mean_std"].items():
        print(f"| {key} | " + " | ".join(f"{figure} {value}" for figure, value in figures.items()) + " |")


if __name__ == "__main__":
    main()
