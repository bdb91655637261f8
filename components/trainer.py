"""TFX Trainer module code: `run_fn` trains on Transform's output and exports the model.

Referenced by import path (`components.trainer.run_fn`), so the same code runs in the local
pipeline and in the Kubeflow image; the component that runs it is
components/tunable_trainer.py. `train` is separate from `run_fn` so the benchmarks train both
model variants with exactly the pipeline's code.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras
from absl import logging
from tfx import v1 as tfx

from components import search_space, signatures, training_summary, warmup
from components.decision_threshold import NOTEBOOK_THRESHOLD, choose_threshold, natural_cut
from components.fused import can_fuse, fuse
from components.hyperparameters import Hyperparameters, wide_part_alone
from components.model import LOG_LOSS, WIDE, build_model, compile_model, input_keys, parameter_count, serving_model
from preprocessing import features, text

# Documents are pre-padded to MAX_LENGTH; with masking, a batch is cut to its longest
# document. Bucketing batches documents of similar length so few steps are padding.
LENGTH_BUCKETS = (16, 32, 64, 128, 256)


MODEL_FEATURES = (features.TOKEN_IDS_KEY, features.TFIDF_IDS_KEY, features.TFIDF_WEIGHTS_KEY, features.STYLE_KEY,
                  features.AUTHOR_ID_KEY)


def read_examples(file_patterns: list[str], tf_transform_output: tft.TFTransformOutput) -> tf.data.Dataset:
    """(features, label) pairs from Transform's gzipped TFRecords, in file order: features maps
    each model input Transform wrote (MODEL_FEATURES) to its tensor (the TF-IDF's sparse)."""
    files = sorted(path for pattern in file_patterns for path in tf.io.gfile.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no transformed examples match {file_patterns}")
    spec = {
        key: value
        for key, value in tf_transform_output.transformed_feature_spec().items()
        if key in (*MODEL_FEATURES, features.LABEL_KEY)
    }
    return (
        tf.data.TFRecordDataset(files, compression_type="GZIP")
        .map(lambda record: tf.io.parse_single_example(record, spec), num_parallel_calls=tf.data.AUTOTUNE)
        .map(lambda ex: ({key: ex[key] for key in MODEL_FEATURES if key in ex}, ex[features.LABEL_KEY]))
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


def batches(dataset: tf.data.Dataset, hparams: Hyperparameters, training: bool) -> tf.data.Dataset:
    """Batches of (the model's inputs, label); for training shuffled, and with word dropout if set."""
    keys = input_keys(hparams)
    dataset = dataset.map(lambda inputs, label: ({key: inputs[key] for key in keys}, label)).cache()
    if training:
        dataset = dataset.shuffle(10_000, seed=hparams.seed, reshuffle_each_iteration=True)
    if hparams.bucket_by_length:
        dataset = dataset.bucket_by_sequence_length(
            element_length_func=lambda inputs, label: text.document_lengths(inputs[features.TOKEN_IDS_KEY]),
            bucket_boundaries=list(LENGTH_BUCKETS),
            bucket_batch_sizes=[hparams.batch_size] * (len(LENGTH_BUCKETS) + 1),
            no_padding=True,  # Rows are already padded to MAX_LENGTH; trim_padding cuts them.
        )
    else:
        dataset = dataset.batch(hparams.batch_size)
    if hparams.mask_padding:
        dataset = dataset.map(lambda inputs, label: (_with_token_ids(inputs, text.trim_padding), label))
    if training and hparams.word_dropout > 0:
        # After trimming: a dropped word becomes PAD_ID, which the mask skips, and must not
        # shorten the batch's longest document.
        drop = lambda ids: drop_words(ids, hparams.word_dropout)  # noqa: E731
        dataset = dataset.map(lambda inputs, label: (_with_token_ids(inputs, drop), label))
    return dataset.prefetch(tf.data.AUTOTUNE)


def _with_token_ids(inputs: dict[str, tf.Tensor], change) -> dict[str, tf.Tensor]:
    return {**inputs, features.TOKEN_IDS_KEY: change(inputs[features.TOKEN_IDS_KEY])}


def drop_words(token_ids: tf.Tensor, rate: float) -> tf.Tensor:
    """Replaces each word id by PAD_ID with probability `rate`; padding stays padding."""
    kept = tf.random.uniform(tf.shape(token_ids)) >= rate
    return tf.where(kept, token_ids, tf.constant(features.PAD_ID, token_ids.dtype))


def class_weights(labels: np.ndarray) -> dict[int, float]:
    """Inverse-frequency weights (sklearn's "balanced"): each class adds up to half the loss."""
    counts = np.bincount(labels.astype(int), minlength=2)
    if counts.min() == 0:
        return {0: 1.0, 1: 1.0}
    return {cls: float(len(labels) / (2 * count)) for cls, count in enumerate(counts)}


def scores(served: keras.Model, examples: tf.data.Dataset, hparams: Hyperparameters) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) of `served` over (features, label) examples, batched as for
    validation (in `examples`' order unless hparams buckets by length)."""
    scored = [(served(inputs, training=False).numpy().reshape(-1), label.numpy())
              for inputs, label in batches(examples, hparams, training=False)]
    probabilities, labels = (np.concatenate(column) for column in zip(*scored))
    return probabilities, labels


@dataclasses.dataclass
class TrainingResult:
    model: keras.Model  # The serving view: the model's inputs -> [batch, 1] (mean) probability.
    history: dict[str, list[float]]
    epoch_seconds: list[float]
    threshold: float
    validation_score: float | None  # hparams.threshold_metric at the threshold, on the validation slice.
    parameter_count: int  # Of the copies together, not counting the zeros between them.

    @property
    def best_epoch(self) -> int:
        """The epoch whose weights early stopping kept (1-based): the lowest validation loss."""
        return int(np.argmin(self.history["val_loss"])) + 1

    @property
    def validation_loss(self) -> float:
        """The kept epoch's validation loss as Keras computes it, L2 penalties included."""
        return float(self.history["val_loss"][self.best_epoch - 1])

    @property
    def validation_log_loss(self) -> float:
        """The kept epoch's validation log loss, its L2 penalties left out (model.LOG_LOSS)."""
        return float(self.history[f"val_{LOG_LOSS}"][self.best_epoch - 1])


class _EpochTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._start)


def _fit(model: keras.Model, hparams: Hyperparameters, train_examples: tf.data.Dataset,
         validation_examples: tf.data.Dataset, weights: dict[int, float] | None, log_dir: str | None,
         verbose: int) -> tuple[keras.callbacks.History, list[float]]:
    """Fits with early stopping on the validation slice's loss (restoring the best weights)."""
    timer = _EpochTimer()
    callbacks: list[keras.callbacks.Callback] = [
        timer,
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=hparams.early_stopping_patience, restore_best_weights=True
        ),
    ]
    if log_dir:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch"))
    model.summary(print_fn=logging.info)
    history = model.fit(
        batches(train_examples, hparams, training=True),
        validation_data=batches(validation_examples, hparams, training=False),
        epochs=hparams.epochs,
        class_weight=weights,
        callbacks=callbacks,
        verbose=verbose,
    )
    return history, timer.seconds


def train(
    hparams: Hyperparameters, examples: tf.data.Dataset, log_dir: str | None = None, verbose: int = 2
) -> TrainingResult:
    """Trains on (features, label) examples of the train split (`read_examples`), as the pipeline does."""
    train_examples, validation_examples = split_train_validation(examples, hparams.validation_fraction)
    weights = None
    if hparams.balance_classes:
        # The labels alone: as_numpy_iterator over sparse features (the TF-IDF) is very slow.
        labels = np.fromiter(train_examples.map(lambda inputs, label: label).as_numpy_iterator(), dtype=np.int64)
        weights = class_weights(labels)
        logging.info("Class weights from %d training labels: %s", len(labels), weights)

    model = build_model(hparams)
    if hparams.lstm and hparams.wide and hparams.joining == "residual":
        # The wide part fitted alone first, then frozen: the LSTM learns what it leaves.
        alone = wide_part_alone(hparams)
        wide_model = build_model(alone)
        _fit(wide_model, alone, train_examples, validation_examples, weights, None, verbose)
        wide, fitted = model.get_layer(WIDE), wide_model.get_layer(WIDE)
        # The same weights in use: each layer stores them divided by its own step scale.
        wide.set_weights([value * fitted.step_scale / wide.step_scale for value in fitted.get_weights()])
        wide.trainable = False
        compile_model(model, hparams)  # A change of trainable weights takes a new compile.
    history, epoch_seconds = _fit(model, hparams, train_examples, validation_examples, weights, log_dir, verbose)

    # What is exported, and so what the threshold is chosen on.
    served = fuse(model, hparams) if can_fuse(hparams) else serving_model(model)
    threshold, validation_score = NOTEBOOK_THRESHOLD, None
    if hparams.tune_threshold:
        probabilities, labels = scores(served, validation_examples, hparams)
        threshold, validation_score = choose_threshold(labels, probabilities, hparams.threshold_metric,
                                                       prior=natural_cut(hparams.threshold_metric, weights))
        logging.info("Decision threshold %.4f: %s %.4f on the validation slice", threshold,
                     hparams.threshold_metric, validation_score)
    return TrainingResult(served, history.history, epoch_seconds, threshold, validation_score,
                          parameter_count(model))


def run_hyperparameters(fn_args: tfx.components.FnArgs) -> tuple[Hyperparameters, dict[str, object]]:
    """(what to train, the Tuner's values by name): the pipeline's preset with the Tuner's best
    values (a KerasTuner HyperParameters config) applied, when the pipeline tunes."""
    tuned = search_space.tuned_values(fn_args.hyperparameters) if fn_args.hyperparameters else {}
    return search_space.apply(Hyperparameters.from_custom_config(fn_args.custom_config), tuned), tuned


def run_fn(fn_args: tfx.components.FnArgs) -> None:
    hparams, tuned = run_hyperparameters(fn_args)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    result = train(hparams, read_examples(fn_args.train_files, tf_transform_output), fn_args.model_run_dir)
    signatures.export(result.model, tf_transform_output, result.threshold, fn_args.serving_model_dir,
                      trim_padding=hparams.mask_padding)
    warmup.write_from_examples(fn_args.serving_model_dir, fn_args.custom_config[warmup.SOURCE_KEY])
    write_training_summary(fn_args.model_run_dir, hparams, result, tuned)


def write_training_summary(model_run_dir: str, hparams: Hyperparameters, result: TrainingResult,
                           tuned: dict[str, object] | None = None) -> None:
    """What the run summary and the model card report about training; `tuned`: the
    hyperparameters the Tuner chose (already in `hparams`), by name."""
    val_loss = result.history.get("val_loss", [])
    summary = {
        "hyperparameters": dataclasses.asdict(hparams),
        "tuned": dict(tuned or {}),
        "epochs_run": len(result.epoch_seconds),
        "best_epoch": result.best_epoch if val_loss else None,
        "validation_log_loss": result.validation_log_loss if val_loss else None,
        "epoch_seconds": result.epoch_seconds,
        "history": {key: [float(v) for v in values] for key, values in result.history.items()},
        "threshold": result.threshold,
        "validation_score": result.validation_score,
        "parameter_count": result.parameter_count,
    }
    training_summary.write(model_run_dir, summary)
