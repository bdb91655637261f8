"""TFX Trainer module code: `run_fn` trains on Transform's output and exports the model.

Referenced by import path (`components.trainer.run_fn`), so the same code runs in the local
pipeline and in the Kubeflow image. `train` is separate from `run_fn` so the benchmarks
train both model variants with exactly the pipeline's code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx import v1 as tfx

from components import signatures
from components.model import build_model
from pipeline.config import Hyperparameters
from preprocessing import features, text

NOTEBOOK_THRESHOLD = 0.5  # The notebook's decision rule.
TRAINING_SUMMARY_FILE = "training_summary.json"
# Documents are pre-padded to MAX_LENGTH; with masking, a batch is cut to its longest
# document. Bucketing batches documents of similar length so few steps are padding.
LENGTH_BUCKETS = (16, 32, 64, 128, 256)


def hyperparameters_from(custom_config: dict | None) -> Hyperparameters:
    values = dict((custom_config or {}).get("hyperparameters", {}))
    if "dense_units" in values:
        values["dense_units"] = tuple(values["dense_units"])  # JSON turned the tuple into a list.
    return Hyperparameters(**values)


def read_examples(file_patterns: list[str], tf_transform_output: tft.TFTransformOutput) -> tf.data.Dataset:
    """(token_ids, label) pairs from Transform's gzipped TFRecords, in file order."""
    files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    spec = {
        key: value
        for key, value in tf_transform_output.transformed_feature_spec().items()
        if key in (features.TOKEN_IDS_KEY, features.LABEL_KEY)
    }
    return (
        tf.data.TFRecordDataset(files, compression_type="GZIP")
        .map(lambda record: tf.io.parse_single_example(record, spec), num_parallel_calls=tf.data.AUTOTUNE)
        .map(lambda ex: (ex[features.TOKEN_IDS_KEY], ex[features.LABEL_KEY]))
    )


def split_train_validation(
    dataset: tf.data.Dataset, validation_fraction: float
) -> tuple[tf.data.Dataset, tf.data.Dataset]:
    """Holds out every k-th example of the train split for early stopping and the threshold.

    The eval split stays untouched for the Evaluator: choosing epochs or the threshold on it
    would leak.
    """
    every = max(2, round(1 / validation_fraction))
    numbered = dataset.enumerate()
    keep = lambda wanted: (lambda i, example: tf.equal(i % every == 0, wanted))  # noqa: E731
    strip = lambda i, example: example  # noqa: E731
    return numbered.filter(keep(False)).map(strip), numbered.filter(keep(True)).map(strip)


def batches(dataset: tf.data.Dataset, hparams: Hyperparameters, shuffle: bool) -> tf.data.Dataset:
    dataset = dataset.cache()
    if shuffle:
        dataset = dataset.shuffle(10_000, seed=hparams.seed, reshuffle_each_iteration=True)
    if hparams.bucket_by_length:
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda ids, label: text.document_lengths(ids),
            bucket_boundaries=list(LENGTH_BUCKETS),
            bucket_batch_sizes=[hparams.batch_size] * (len(LENGTH_BUCKETS) + 1),
            no_padding=True,  # Rows are already padded to MAX_LENGTH; trim_padding cuts them.
        )
    else:
        dataset = dataset.batch(hparams.batch_size)
    if hparams.mask_padding:
        dataset = dataset.map(lambda ids, label: (text.trim_padding(ids), label))
    return dataset.prefetch(tf.data.AUTOTUNE)


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Inverse-frequency weights (sklearn's "balanced"): each class adds up to half the loss."""
    counts = np.bincount(labels.astype(int), minlength=2)
    if counts.min() == 0:
        return {0: 1.0, 1: 1.0}
    return {cls: float(len(labels) / (2 * count)) for cls, count in enumerate(counts)}


def best_f1_threshold(labels: np.ndarray, probabilities: np.ndarray) -> tuple[float, float]:
    """The threshold t maximising F1 of class 1 for the rule `probability >= t`, and that F1.

    Candidates are the observed probabilities; each cut is evaluated at once from cumulative
    counts over the probabilities sorted high to low.
    """
    order = np.argsort(-probabilities, kind="stable")
    sorted_probs, sorted_labels = probabilities[order], labels[order].astype(int)
    positives = sorted_labels.sum()
    if positives == 0:
        return NOTEBOOK_THRESHOLD, 0.0
    true_pos = np.cumsum(sorted_labels)
    predicted_pos = np.arange(1, len(sorted_labels) + 1)
    # Only the last index of a run of equal probabilities is a real cut.
    last_of_tie = np.append(sorted_probs[1:] != sorted_probs[:-1], True)
    f1 = np.where(last_of_tie, 2 * true_pos / (predicted_pos + positives), -1.0)
    best = int(np.argmax(f1))
    return float(sorted_probs[best]), float(f1[best])


@dataclasses.dataclass
class TrainingResult:
    model: keras.Model
    history: dict[str, list[float]]
    epoch_seconds: list[float]
    threshold: float
    validation_f1: float | None


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def train(
    hparams: Hyperparameters, examples: tf.data.Dataset, log_dir: str | None = None, verbose: int = 2
) -> TrainingResult:
    """Trains on (token_ids, label) examples of the train split, as the pipeline does."""
    train_examples, validation_examples = split_train_validation(examples, hparams.validation_fraction)
    timer = _EpochTimer()
    callbacks: list[keras.callbacks.Callback] = [
        timer,
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=hparams.early_stopping_patience, restore_best_weights=True
        ),
    ]
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    weights = None
    if hparams.balance_classes:
        labels = np.fromiter((label for _, label in train_examples.as_numpy_iterator()), dtype=np.int64)
        weights = class_weights(labels)
        logging.info("Class weights from %d training labels: %s", len(labels), weights)

    model = build_model(hparams)
    model.summary(print_fn=logging.info)
    history = model.fit(
        batches(train_examples, hparams, shuffle=True),
        validation_data=batches(validation_examples, hparams, shuffle=False),
        epochs=hparams.epochs,
        class_weight=weights,
        callbacks=callbacks,
        verbose=verbose,
    )

    threshold, validation_f1 = NOTEBOOK_THRESHOLD, None
    if hparams.tune_threshold:
        scored = [
            (model(ids, training=False).numpy().reshape(-1), label.numpy())
            for ids, label in batches(validation_examples, hparams, shuffle=False)
        ]
        probabilities, labels = (np.concatenate(column) for column in zip(*scored))
        threshold, validation_f1 = best_f1_threshold(labels, probabilities)
        logging.info("Decision threshold %.4f: F1 (fake) %.4f on the validation slice", threshold, validation_f1)
    return TrainingResult(model, history.history, timer.seconds, threshold, validation_f1)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    hparams = hyperparameters_from(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    result = train(hparams, read_examples(fn_args.train_files, tf_transform_output), fn_args.model_run_dir)
    signatures.export(result.model, tf_transform_output, result.threshold, fn_args.serving_model_dir,
                      trim_padding=hparams.mask_padding)
    write_training_summary(fn_args.model_run_dir, hparams, result)


def write_training_summary(model_run_dir: str, hparams: Hyperparameters, result: TrainingResult) -> None:
    """What the run summary and the model card report about training."""
    val_loss = result.history.get("val_loss", [])
    summary = {
        "hyperparameters": dataclasses.asdict(hparams),
        "epochs_run": len(result.epoch_seconds),
        "best_epoch": int(np.argmin(val_loss)) + 1 if val_loss else None,
        "epoch_seconds": result.epoch_seconds,
        "history": {key: [float(v) for v in values] for key, values in result.history.items()},
        "threshold": result.threshold,
        "validation_f1": result.validation_f1,
        "parameter_count": result.model.count_params(),
    }
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_SUMMARY_FILE), "w") as f:
        f.write(json.dumps(summary, indent=2))
