"""TFX Trainer module code: `run_fn` trains on Transform's output and exports the model.

Referenced by import path (`components.trainer.run_fn`), so the same code runs in the local
pipeline and in the Kubeflow image.
"""

from __future__ import annotations

import dataclasses
import json
import os

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx import v1 as tfx

from components import signatures
from components.model import build_model
from pipeline.config import Hyperparameters
from preprocessing import features

DEFAULT_THRESHOLD = 0.5  # The notebook's decision rule: probability > 0.5 is fake.
TRAINING_SUMMARY_FILE = "training_summary.json"


def hyperparameters_from(custom_config: dict | None) -> Hyperparameters:
    values = dict((custom_config or {}).get("hyperparameters", {}))
    if "dense_units" in values:
        values["dense_units"] = tuple(values["dense_units"])  # JSON turned the tuple into a list.
    return Hyperparameters(**values)


def _read_examples(file_patterns: list[str], tf_transform_output: tft.TFTransformOutput) -> tf.data.Dataset:
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
    """Holds out every k-th example of the train split for early stopping.

    The eval split stays untouched for the Evaluator: choosing epochs on it would leak.
    """
    every = max(2, round(1 / validation_fraction))
    numbered = dataset.enumerate()
    keep = lambda wanted: (lambda i, example: tf.equal(i % every == 0, wanted))  # noqa: E731
    strip = lambda i, example: example  # noqa: E731
    return numbered.filter(keep(False)).map(strip), numbered.filter(keep(True)).map(strip)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    hparams = hyperparameters_from(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

    examples = _read_examples(fn_args.train_files, tf_transform_output)
    train, validation = split_train_validation(examples, hparams.validation_fraction)
    train = train.cache().shuffle(10_000, seed=hparams.seed, reshuffle_each_iteration=True)
    train = train.batch(hparams.batch_size).prefetch(tf.data.AUTOTUNE)
    validation = validation.cache().batch(hparams.batch_size).prefetch(tf.data.AUTOTUNE)

    model = build_model(hparams)
    model.summary(print_fn=logging.info)
    history = model.fit(
        train,
        validation_data=validation,
        epochs=hparams.epochs,
        callbacks=[
            keras.callbacks.EarlyStopping(
                monitor="val_loss",
                patience=hparams.early_stopping_patience,
                restore_best_weights=True,
            ),
            keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir, update_freq="epoch"),
        ],
        verbose=2,
    )

    threshold = DEFAULT_THRESHOLD
    signatures.export(model, tf_transform_output, threshold, fn_args.serving_model_dir)
    _write_training_summary(fn_args.model_run_dir, hparams, history, threshold, model.count_params())


def _write_training_summary(
    model_run_dir: str, hparams: Hyperparameters, history: keras.callbacks.History,
    threshold: float, parameter_count: int,
) -> None:
    """What the run summary and the model card report about training."""
    val_loss = history.history.get("val_loss", [])
    summary = {
        "hyperparameters": dataclasses.asdict(hparams),
        "epochs_run": len(history.epoch),
        "best_epoch": int(min(range(len(val_loss)), key=val_loss.__getitem__)) + 1 if val_loss else None,
        "history": {key: [float(v) for v in values] for key, values in history.history.items()},
        "threshold": threshold,
        "parameter_count": parameter_count,
    }
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, TRAINING_SUMMARY_FILE), "w") as f:
        f.write(json.dumps(summary, indent=2))
