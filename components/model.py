"""The notebook's network, built from hyperparameters, with an optional wide (linear) part.

Embedding -> Dropout -> LSTM -> Dropout -> Dense(relu)… -> Dense(1, sigmoid). Dropout is a
separate layer, not the LSTM's `dropout=` argument, which tf_keras' saved graphs handle badly.
With `mask_padding`, the Embedding's mask makes the LSTM skip padding steps: its state (and
so the prediction) does not depend on how much padding precedes a document.

With `ensemble_size` n > 1 the model holds n independent copies of that network side by side
in layers n times as wide: copy m owns columns [m*E, (m+1)*E) of the embedding, units
[m*u, (m+1)*u) of each LSTM gate, and its own block of each dense layer. Block-diagonal
weights keep the copies apart: the weights between copies start at zero and a constraint puts
them back to zero after every update, so no copy ever reads another's units, and each copy's
gradient comes from its own prediction only. Each block starts as that copy's own layer would
(Glorot, orthogonal). The copies thus learn as n separately trained networks would, in two
LSTM loops (one per direction) instead of 2n, which keeps building and running the training
graph about as cheap as for one network. The output is the copies' probabilities,
[batch, n]; the loss is the mean of their losses.

The wide part (`wide`) is a logistic regression over the document's TF-IDF
(preprocessing/tfidf.py): a weight per vocabulary term and a bias. With the LSTM too, each
copy's last dense layer gives a logit, and the copy's probability is sigmoid(that logit + the
wide part's logit): one linear model shared by the copies, each LSTM adding what word order
and the embeddings tell beyond it. Without the LSTM (`lstm=False`) the model is the
logistic regression alone.

The style part (`style`) is a small network over the document's style features
(preprocessing/style.py): Dense(relu) layers with dropout, then one logit, added to the wide
part's (and each LSTM copy's): a word's weight in the linear model stays one number, and the
style part adds what the article's length, capitals, punctuation and missing fields say, in
any combination its ReLUs can draw.

The author part (`author`) is one weight per author id (preprocessing/author.py), its logit
added to the others': what the author's other documents in training say beyond their words
and style. An embedding of width 1, zeros at the start and under L2, so an author seen in
few documents moves the probability little, and one never seen (on an id of its own) not at all.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.hyperparameters import Hyperparameters
from components.keras_autograph import leave_keras_and_ours_unconverted
from preprocessing import features, style

LSTM_GATES = 4  # Keras' LSTM weight columns: input, forget, cell, output gates, `units` each.
EMBEDDING, LSTM = "embedding", "lstm"
PROBABILITIES = "probabilities"
# The compiled loss without the L2 penalties (the wide and author parts'), a metric: what
# settings are compared by (components/tuning.py). Keras' loss includes the penalties, which
# would favour the weaker one of two L2 settings by the penalty alone.
LOG_LOSS = "log_loss"
WIDE = "wide"  # The linear part's layer.
STYLE_LOGIT = "style_logit"  # The style part's last layer.
AUTHOR_WEIGHTS = "author_weights"  # The author part's layer.
DEEP_LOGITS = "deep_logits"  # The last dense layer of the LSTM part when another part adds to it.


def dense_name(index: int) -> str:
    return f"dense{index + 1}"


def copy_blocks(size: int, copies: int) -> list[np.ndarray]:
    """Copy m's indices among `copies` equal consecutive blocks of `size` each."""
    return [np.arange(m * size, (m + 1) * size) for m in range(copies)]


def lstm_columns(units: int, copies: int) -> list[np.ndarray]:
    """Copy m's columns of a wide LSTM's weights: its `units` within each of the four gates."""
    width = units * copies
    return [np.concatenate([gate * width + m * units + np.arange(units) for gate in range(LSTM_GATES)])
            for m in range(copies)]


def lstm_output_rows(units: int, copies: int, directions: int) -> list[np.ndarray]:
    """Copy m's units of the (Bidirectional) LSTM output: forward block, then backward block."""
    return [np.concatenate([d * units * copies + m * units + np.arange(units) for d in range(directions)])
            for m in range(copies)]


@keras.utils.register_keras_serializable(package="fakenews")  # Bidirectional rebuilds its LSTMs from config.
class BlockMask(keras.constraints.Constraint):
    """Zeroes every weight outside the copies' own blocks (`mask` is 1 inside them)."""

    def __init__(self, mask: np.ndarray):
        self.mask = np.asarray(mask, np.float32)

    def __call__(self, weights: tf.Tensor) -> tf.Tensor:
        return weights * self.mask

    def get_config(self) -> dict:
        return {"mask": self.mask.tolist()}


def _block_mask(shape: tuple[int, int], rows: list[np.ndarray], columns: list[np.ndarray]) -> np.ndarray:
    mask = np.zeros(shape, np.float32)
    for copy_rows, copy_columns in zip(rows, columns):
        mask[np.ix_(copy_rows, copy_columns)] = 1.0
    return mask


def _initialise_blocks(variable: tf.Variable, rows: list[np.ndarray], columns: list[np.ndarray],
                       initializer: type[keras.initializers.Initializer], seeds: np.random.Generator) -> None:
    """Each copy's block drawn as that copy's own layer would draw it; zeros between copies.

    A fresh seeded initializer per block: one instance returns the same values at every call,
    which would start the copies identical.
    """
    values = np.zeros(variable.shape, np.float32)
    for copy_rows, copy_columns in zip(rows, columns):
        draw = initializer(seed=int(seeds.integers(2**31)))
        values[np.ix_(copy_rows, copy_columns)] = draw((len(copy_rows), len(copy_columns))).numpy()
    variable.assign(values)


def copies_loss(labels: tf.Tensor, probabilities: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy of each copy's probability, averaged over the copies."""
    labels = tf.cast(tf.reshape(labels, [-1, 1]), probabilities.dtype)
    return keras.losses.binary_crossentropy(tf.broadcast_to(labels, tf.shape(probabilities)), probabilities)


class _MeanProbabilityAUC(keras.metrics.AUC):
    """AUC of the copies' mean probability: the number the served model is judged by."""

    def update_state(self, y_true: tf.Tensor, y_pred: tf.Tensor, sample_weight: tf.Tensor | None = None):
        return super().update_state(y_true, tf.reduce_mean(y_pred, axis=-1, keepdims=True), sample_weight)


def input_keys(hparams: Hyperparameters) -> tuple[str, ...]:
    """The Transform outputs the model reads, by the names of its inputs."""
    return (((features.TOKEN_IDS_KEY,) if hparams.lstm else ())
            + ((features.TFIDF_IDS_KEY, features.TFIDF_WEIGHTS_KEY) if hparams.wide else ())
            + ((features.STYLE_KEY,) if hparams.style else ())
            + ((features.AUTHOR_ID_KEY,) if hparams.author else ()))


@keras.utils.register_keras_serializable(package="fakenews")
class LinearOverTerms(keras.layers.Layer):
    """A document's logit: the sum of its terms' TF-IDF weights times their own weights, plus a bias.

    inputs: [term ids, TF-IDF weights], two [batch, (terms)] SparseTensors over the same
    indices -> [batch, 1]. A document without a known term gets the bias alone.

    The weights are stored divided by `step_scale` and multiplied back in the call: Adam
    moves a stored weight by about the learning rate per step whatever its gradient's size,
    so the weights move `step_scale` times as fast as the LSTM's (one optimizer for both).
    """

    def __init__(self, vocabulary_size: int, l2: float = 0.0, step_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.l2, self.step_scale = vocabulary_size, l2, step_scale

    def build(self, input_shape) -> None:
        # l2 * |step_scale * stored|^2, the penalty on the weights used; a regularizer, so it
        # is computed in training steps only.
        penalty = keras.regularizers.L2(self.l2 * self.step_scale**2) if self.l2 else None
        self.kernel = self.add_weight(name="kernel", shape=(self.vocabulary_size,), initializer="zeros",
                                      regularizer=penalty)
        self.bias = self.add_weight(name="bias", shape=(1,), initializer="zeros")

    def term_logits(self, ids: tf.SparseTensor, tfidf: tf.SparseTensor) -> tf.SparseTensor:
        """Each term's part of its document's logit, its weight x its TF-IDF weight, over the inputs' indices."""
        return tf.SparseTensor(ids.indices, tf.gather(self.kernel * self.step_scale, ids.values) * tfidf.values,
                               ids.dense_shape)

    def bias_in_use(self) -> tf.Tensor:
        """[1]: the logit of a document without a known term."""
        return self.bias * self.step_scale

    def call(self, inputs: list[tf.SparseTensor]) -> tf.Tensor:
        ids, tfidf = inputs
        per_term = self.term_logits(ids, tfidf)
        logit = tf.math.unsorted_segment_sum(per_term.values, ids.indices[:, 0], ids.dense_shape[0])
        return logit[:, tf.newaxis] + self.bias_in_use()

    def get_config(self) -> dict:
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "l2": self.l2,
                "step_scale": self.step_scale}


def wide_inputs() -> list[keras.Input]:
    return [keras.Input(shape=(None,), sparse=True, dtype="int64", name=features.TFIDF_IDS_KEY),
            keras.Input(shape=(None,), sparse=True, dtype="float32", name=features.TFIDF_WEIGHTS_KEY)]


def wide_layer(hparams: Hyperparameters) -> LinearOverTerms:
    return LinearOverTerms(features.TFIDF_VOCABULARY_LIMIT, hparams.wide_l2,
                           hparams.wide_learning_rate / hparams.learning_rate, name=WIDE)


def style_input() -> keras.Input:
    return keras.Input(shape=(style.SIZE,), dtype="float32", name=features.STYLE_KEY)


def style_part(hparams: Hyperparameters, style_features: keras.KerasTensor) -> keras.KerasTensor:
    """[batch, 1]: the style part's logit."""
    x = style_features
    for index, width in enumerate(hparams.style_units):
        x = keras.layers.Dense(width, activation="relu", name=f"style{index + 1}")(x)
        x = keras.layers.Dropout(hparams.style_dropout)(x)
    return keras.layers.Dense(1, name=STYLE_LOGIT)(x)


def author_input() -> keras.Input:
    return keras.Input(shape=(), dtype="int64", name=features.AUTHOR_ID_KEY)


def author_layer(hparams: Hyperparameters) -> keras.layers.Embedding:
    """[batch] author ids -> [batch, 1]: each author's logit."""
    return keras.layers.Embedding(features.AUTHOR_BUCKETS, 1, embeddings_initializer="zeros",
                                  embeddings_regularizer=keras.regularizers.L2(hparams.author_l2),
                                  name=AUTHOR_WEIGHTS)


def join_logits(deep_logits: keras.KerasTensor | None, logits: list[keras.KerasTensor]) -> keras.KerasTensor:
    """[batch, copies] probabilities: sigmoid(each copy's logit + the other parts' [batch, 1] logits)."""
    parts = ([deep_logits] if deep_logits is not None else []) + logits
    if len(parts) == 1:
        return keras.layers.Activation("sigmoid", name=PROBABILITIES)(parts[0])
    # Broadcast: each copy's [batch, copies] logits plus the shared [batch, 1] ones.
    joined = keras.layers.Lambda(lambda logits: sum(logits[1:], logits[0]), name="joined_logits")(parts)
    return keras.layers.Activation("sigmoid", name=PROBABILITIES)(joined)


def adds_to_lstm(hparams: Hyperparameters) -> bool:
    """Whether a wide, style or author part adds its logit to the LSTM's."""
    return hparams.wide or hparams.style or hparams.author


def last_dense_name(hparams: Hyperparameters) -> str:
    """The LSTM part's last layer: the probabilities, or, beside another part, the logits."""
    return DEEP_LOGITS if adds_to_lstm(hparams) else PROBABILITIES


def build_model(hparams: Hyperparameters) -> keras.Model:
    """The compiled training model: the `input_keys` features -> [batch, ensemble_size]."""
    leave_keras_and_ours_unconverted()  # Before anything traces the model.
    keras.utils.set_random_seed(hparams.seed)
    inputs, deep, logits = [], None, []
    if hparams.lstm:
        token_ids = keras.Input(shape=(None,), dtype="int64", name=features.TOKEN_IDS_KEY)
        inputs.append(token_ids)
        deep = _lstm_part(hparams, token_ids)
    if hparams.wide:
        terms = wide_inputs()
        inputs += terms
        logits.append(wide_layer(hparams)(terms))
    if hparams.style:
        style_features = style_input()
        inputs.append(style_features)
        logits.append(style_part(hparams, style_features))
    if hparams.author:
        author_ids = author_input()
        inputs.append(author_ids)
        logits.append(author_layer(hparams)(author_ids))
    x = join_logits(deep, logits) if logits else deep
    model = keras.Model(inputs, x, name=f"fakenews_{hparams.preset}")
    compile_model(model, hparams)
    return model


def compile_model(model: keras.Model, hparams: Hyperparameters) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hparams.learning_rate),
        loss=copies_loss,
        metrics=[_MeanProbabilityAUC(name="auc"), keras.metrics.MeanMetricWrapper(copies_loss, name=LOG_LOSS)],
    )


def _lstm_part(hparams: Hyperparameters, token_ids: keras.KerasTensor) -> keras.KerasTensor:
    """The notebook's layers (ensemble_size copies): [batch, copies] probabilities, or logits
    when another part adds to them."""
    n, units = hparams.ensemble_size, hparams.lstm_units
    directions = 2 if hparams.bidirectional else 1
    split = n > 1  # One copy needs no blocks, and keeps the notebook's layers exactly.

    x = keras.layers.Embedding(
        features.VOCAB_SIZE, n * hparams.embedding_dim, mask_zero=hparams.mask_padding, name=EMBEDDING
    )(token_ids)
    x = keras.layers.Dropout(hparams.dropout_embedding)(x)

    lstm_rows = copy_blocks(hparams.embedding_dim, n)
    columns = lstm_columns(units, n)
    kernel_mask = _block_mask((n * hparams.embedding_dim, LSTM_GATES * n * units), lstm_rows, columns)
    recurrent_mask = _block_mask((n * units, LSTM_GATES * n * units), copy_blocks(units, n), columns)
    # Keras' LSTM arithmetic (LSTMCell) in the generic RNN loop rather than keras.layers.LSTM,
    # which adds to every graph it is traced into a cuDNN twin of itself and that twin's
    # gradients, for Grappler to choose between at run time: two thirds of each trace's cost
    # (building a model, its train and test steps, the export) on this CPU-only stack, where
    # the twin never runs (nor would it on a GPU for masked, pre-padded documents: cuDNN takes
    # right-padded ones only). Same weights, same losses to the last digit, same epoch time.
    lstm_layers = [keras.layers.RNN(keras.layers.LSTMCell(
        n * units,
        kernel_constraint=BlockMask(kernel_mask) if split else None,
        recurrent_constraint=BlockMask(recurrent_mask) if split else None,
    ), name=LSTM if directions == 1 else None)]
    if hparams.bidirectional:
        # The backward LSTM reads from the last word to the first; the mask skips the padding
        # in both directions, so padding invariance holds as for one direction.
        wrapper = keras.layers.Bidirectional(lstm_layers[0], name=LSTM)
        lstm_layers = [wrapper.forward_layer, wrapper.backward_layer]
        x = wrapper(x)
    else:
        x = lstm_layers[0](x)
    x = keras.layers.Dropout(hparams.dropout_lstm)(x)

    rows = lstm_output_rows(units, n, directions)
    dense_layers = []
    for index, width in enumerate((*hparams.dense_units, 1)):
        last = index == len(hparams.dense_units)
        cols = copy_blocks(width, n)
        layer = keras.layers.Dense(
            n * width, activation=(None if adds_to_lstm(hparams) else "sigmoid") if last else "relu",
            kernel_constraint=BlockMask(_block_mask((sum(map(len, rows)), n * width), rows, cols)) if split else None,
            name=last_dense_name(hparams) if last else dense_name(index),
        )
        x = layer(x)
        dense_layers.append((layer, rows, cols))
        rows = cols

    if split:
        seeds = np.random.default_rng(hparams.seed)
        for layer in lstm_layers:
            _initialise_blocks(layer.cell.kernel, lstm_rows, columns, keras.initializers.GlorotUniform, seeds)
            _initialise_blocks(layer.cell.recurrent_kernel, copy_blocks(units, n), columns,
                               keras.initializers.Orthogonal, seeds)
        for layer, layer_rows, layer_cols in dense_layers:
            _initialise_blocks(layer.kernel, layer_rows, layer_cols, keras.initializers.GlorotUniform, seeds)
    return x


def parameter_count(model: keras.Model) -> int:
    """Trainable weights that can be non-zero: a block-diagonal layer's zeros are not parameters."""
    return int(sum(np.sum(variable.constraint.mask) if isinstance(getattr(variable, "constraint", None), BlockMask)
                   else np.prod(variable.shape) for variable in model.trainable_weights))


def serving_model(model: keras.Model) -> keras.Model:
    """An uncompiled view over the trained layers: its inputs -> [batch, 1] mean probability.

    Uncompiled, so saving it does not also save Adam's slot variables, which serving never reads.
    """
    if model.outputs[0].shape[-1] == 1:
        return keras.Model(model.inputs, model.outputs, name=model.name)
    return keras.Model(model.inputs, mean_over_copies(model.outputs[0]), name=model.name)


def mean_over_copies(probabilities: keras.KerasTensor) -> keras.KerasTensor:
    """[batch, copies] -> [batch, 1]: the ensemble's probability."""
    return keras.layers.Lambda(lambda p: tf.reduce_mean(p, axis=-1, keepdims=True), name="mean_probability")(probabilities)
