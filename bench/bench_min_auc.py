"""Benchmark: the eval-split AUC of a model that can learn nothing, to choose the default `min_auc`.

For each real data set (articles.csv, liar_binary.csv):
  1. `create_pipeline`'s DAG run up to Transform (a TFX partial run), so the splits and token
     ids are the pipeline's;
  2. the default model trained with the pipeline's `components.trainer.train` on the train
     split with its labels shuffled (one permutation per seed): whatever AUC it reaches on the
     eval split (real labels) is chance;
  3. the same model trained on the real labels, once.
AUC is the eval split's, scored through the exported serving view as the Evaluator scores it
(sklearn's exact AUC; TFMA's is a 10,000-threshold approximation of the same figure). The
null standard deviation of AUC for the eval split's class counts (Mann-Whitney,
sqrt((n0 + n1 + 1) / (12 n0 n1))) is recorded beside it.

Run from the repository root (about 15 minutes on 2 cores):
    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_min_auc.py
Writes bench/results/min_auc.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
import tf_keras as keras  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from tfx import v1 as tfx  # noqa: E402
from tfx.orchestration.pipeline import RunOptions  # noqa: E402  (not in tfx.v1)

from components import trainer  # noqa: E402
from pipeline import pipeline as dag  # noqa: E402
from components.hyperparameters import DEFAULT_PRESET, Hyperparameters, hyperparameters_for  # noqa: E402
from pipeline.config import PipelineConfig  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from pipeline.summary import latest_run_outputs  # noqa: E402
from tests.data import canonical_path  # noqa: E402

DATASETS = ("articles.csv", "liar_binary.csv")
SHUFFLED_SEEDS = (1, 2, 3)


def transform_splits(data: str, output: str) -> tuple[tft.TFTransformOutput, str]:
    """Runs the pipeline's components up to Transform; returns its graph and transformed examples' URI."""
    config, folder = PipelineConfig(), RunFolder(output)
    full = dag.create_pipeline(
        config, folder.locations(data),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(folder.metadata_path))
    # A partial run (TFX RunOptions): Transform and what it needs, the DAG's own wiring.
    tfx.orchestration.LocalDagRunner().run(full, run_options=RunOptions(to_nodes=[dag.TRANSFORM]))
    _, outputs = latest_run_outputs(folder.metadata_path, config.pipeline_name)
    transform = outputs[dag.TRANSFORM]
    return tft.TFTransformOutput(transform["transform_graph"][0].uri), transform["transformed_examples"][0].uri


def features_and_labels(dataset: tf.data.Dataset) -> tuple[tf.data.Dataset, np.ndarray]:
    """`trainer.read_examples`' (features, label) pairs split: the features (some sparse) stay a
    dataset, the labels become an array that can be shuffled."""
    labels = np.fromiter(dataset.map(lambda inputs, label: label).as_numpy_iterator(), dtype=np.int64)
    return dataset.map(lambda inputs, label: inputs), labels


def with_labels(inputs: tf.data.Dataset, labels: np.ndarray) -> tf.data.Dataset:
    return tf.data.Dataset.zip((inputs, tf.data.Dataset.from_tensor_slices(labels)))


def eval_auc(model: keras.Model, inputs: tf.data.Dataset, labels: np.ndarray, hparams: Hyperparameters) -> float:
    """AUC of the served view's probabilities on the eval split, batched as the Trainer scores."""
    dataset = trainer.batches(with_labels(inputs, labels), hparams, training=False)
    scored = [(model(batch, training=False).numpy().reshape(-1), label.numpy()) for batch, label in dataset]
    probabilities, ordered_labels = (np.concatenate(column) for column in zip(*scored))
    return float(roc_auc_score(ordered_labels, probabilities))


def null_auc_sd(labels: np.ndarray) -> float:
    """Standard deviation of AUC for a scorer independent of the labels (Mann-Whitney U)."""
    n1 = int(labels.sum())
    n0 = len(labels) - n1
    return math.sqrt((n0 + n1 + 1) / (12 * n0 * n1))


def bench_dataset(name: str, output: str) -> dict:
    transform_output, transformed = transform_splits(str(canonical_path(name)), os.path.join(output, name))
    train_inputs, train_labels = features_and_labels(
        trainer.read_examples([f"{transformed}/Split-train/*"], transform_output))
    eval_inputs, eval_labels = features_and_labels(
        trainer.read_examples([f"{transformed}/Split-eval/*"], transform_output))
    result: dict = {"train_rows": len(train_labels), "eval_rows": len(eval_labels),
                    "eval_fake_share": float(eval_labels.mean()), "null_auc_sd": null_auc_sd(eval_labels),
                    "shuffled": []}

    def trained(labels: np.ndarray, seed: int) -> dict:
        hparams = hyperparameters_for(DEFAULT_PRESET, seed=seed)
        training = trainer.train(hparams, with_labels(train_inputs, labels), verbose=2)
        return {"seed": seed, "epochs_run": len(training.epoch_seconds),
                "auc": eval_auc(training.model, eval_inputs, eval_labels, hparams)}

    for seed in SHUFFLED_SEEDS:
        shuffled = np.random.default_rng(seed).permutation(train_labels)
        result["shuffled"].append(trained(shuffled, seed))
        print(name, "shuffled", result["shuffled"][-1], flush=True)
    result["real"] = trained(train_labels, hyperparameters_for(DEFAULT_PRESET).seed)
    print(name, "real", result["real"], flush=True)
    return result


def markdown_table(results: dict) -> str:
    lines = ["| data | eval rows | null AUC sd | shuffled-labels AUC (seeds) | real-labels AUC |",
             "|---|---|---|---|---|"]
    for name, r in results.items():
        shuffled = ", ".join(f"{run['auc']:.3f}" for run in r["shuffled"])
        lines.append(f"| {name} | {r['eval_rows']:,} | {r['null_auc_sd']:.3f} | {shuffled} | {r['real']['auc']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default=str(REPO_ROOT / "runs" / "bench_min_auc"))
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results" / "min_auc.json"))
    args = parser.parse_args()
    results = {name: bench_dataset(name, args.output) for name in DATASETS}
    report = {"model": DEFAULT_PRESET, "shuffled_seeds": list(SHUFFLED_SEEDS), "results": results}
    pathlib.Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    pathlib.Path(args.results).write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(markdown_table(results))


if __name__ == "__main__":
    main()
