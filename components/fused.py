"""The exported form of a trained model: the same function with one LSTM loop.

One article's latency is set by the number of LSTM steps, not their arithmetic, and a wide
LSTM whose weights are mostly zero blocks (the copies of `components.model`) wastes
arithmetic on them. Here every copy's forward *and* backward LSTM is its own part of one
`GroupedLSTM` loop, with only its own weights; the embedding and the dense layers are the
trained ones. A batch's cost follows its words rather than batch size x longest document
(`GroupedLSTM.call`).
The result equals the trained model's mean probability (to float rounding; a test checks it).
A wide part, if any, is the trained one, added to each copy's logit as in training.

The backward direction fits in the same loop because the documents are pre-padded: Keras'
backward LSTM reads `[0, 0, a, b, c]` as c, b, a and skips the masked padding, which gives
the same final state as reading `[0, 0, c, b, a]` forwards. Both inputs then have the same
mask, so one loop can step through both.

The parts, in the order of the grouped state (n = ensemble_size), which is also the order of
the trained Bidirectional LSTM's output, so the dense layers' weights carry over unchanged:
    [forward copy 0, …, forward copy n-1, backward copy 0, …, backward copy n-1]
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.model import (EMBEDDING, LSTM, LSTM_GATES, WIDE, copy_blocks, dense_name, join_wide,
                              last_dense_name, lstm_columns, mean_over_copies, wide_inputs, wide_layer)
from components.hyperparameters import Hyperparameters
from preprocessing import features


# Time steps per turn of the LSTM loop. Each turn costs the executor about as many control
# flow ops (Switch, Merge, NextIteration for every loop variable) as one step's arithmetic,
# so several steps a turn halve the ops run per step; a median article's request measured
# 0.3–0.5 ms faster at 5 than at 1, and no faster at 8 or 10.
STEPS_PER_ITERATION = 5


class GroupedLSTM(keras.layers.Layer):
    """`parts` independent LSTMs of `units` each, over their own input slices, in one loop.

    inputs [batch, time, parts * input_dim] (part p reads columns [p*input_dim, (p+1)*input_dim))
    -> final states [batch, parts * units], part p's at [p*units, (p+1)*units).

    Keras' LSTM arithmetic (gates i, f, c, o; sigmoid and tanh) in fewer ops per step: the
    input projections of all words are one einsum before the loop, and each step multiplies
    all parts' states by their own recurrent kernels in one batched matmul. A masked step
    keeps the state, as Keras' LSTM does. The loop takes STEPS_PER_ITERATION steps a turn,
    after masked steps in front round the document up to whole turns, and each turn runs
    only the rows whose document has begun (see `call`).
    """

    def __init__(self, parts: int, units: int, input_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.parts, self.units, self.input_dim = parts, units, input_dim
        self.supports_masking = True

    def build(self, input_shape: tf.TensorShape) -> None:
        gates = LSTM_GATES * self.units
        self.kernel = self.add_weight(name="kernel", shape=(self.parts, self.input_dim, gates))
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.parts, self.units, gates))
        self.bias = self.add_weight(name="bias", shape=(self.parts, gates))

    def call(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        """A batch is as long as its longest document, so in a mixed batch most rows are
        padding for most steps. The rows are ranked by their first word; those that have
        begun by a turn's last step are then a prefix of the ranking, each turn computes only
        that prefix, and the rest still hold the zero state. With the input projections
        computed for the words alone, work follows the words, not batch x steps."""
        batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
        if mask is None:
            mask = tf.ones([batch, steps], tf.bool)
        # Masked steps keep the (zero) state, so steps of padding added in front change
        # nothing: they round the steps up to whole turns.
        k = STEPS_PER_ITERATION
        extra = (k - steps % k) % k
        total = steps + extra
        mask = tf.pad(mask, [[0, 0], [extra, 0]], constant_values=False)

        first_word = tf.where(tf.reduce_any(mask, axis=1),
                              tf.argmax(tf.cast(mask, tf.int32), axis=1, output_type=tf.int32), total)
        order = tf.argsort(first_word, stable=True)  # order[r]: the batch row ranked r.
        rank = tf.math.invert_permutation(order)
        begun = tf.reduce_sum(  # Rows begun by the end of each turn.
            tf.cast(tf.gather(first_word, order)[None, :] < tf.range(k, total + 1, k)[:, None], tf.int32), axis=1)
        projected = self._project_words(inputs, mask, extra, rank)  # [time, parts, ranked rows, gates]
        # Turn i's inputs as element i of a TensorArray, [k, parts, ranked rows, gates]: reading an
        # element has a gradient of the element's size, where slicing the whole tensor in the
        # loop has one of the whole tensor's at every turn, which made the backward pass
        # (components/attribution.py) quadratic in the document's length.
        turns = total // k
        per_turn = tf.TensorArray(inputs.dtype, size=turns, element_shape=[k, self.parts, None, None]).unstack(
            tf.reshape(projected, [turns, k, self.parts, batch, LSTM_GATES * self.units]))
        keep = tf.transpose(tf.gather(mask, order))[:, None, :, None]  # [time, 1, ranked rows, 1]
        recurrent_kernel = tf.convert_to_tensor(self.recurrent_kernel)  # Read once, not every step.

        def cell(x: tf.Tensor, kept: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            z = x + tf.matmul(h, recurrent_kernel)  # [parts, rows, 4 * units]
            input_gate, forget_gate, candidate, output_gate = tf.split(z, LSTM_GATES, axis=-1)
            c_next = tf.sigmoid(forget_gate) * c + tf.sigmoid(input_gate) * tf.tanh(candidate)
            h_next = tf.sigmoid(output_gate) * tf.tanh(c_next)
            return tf.where(kept, h_next, h), tf.where(kept, c_next, c)

        def turn(i: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            rows, start = begun[i], i * k
            h_rows, c_rows = h[:, :rows], c[:, :rows]
            steps_x = tf.unstack(per_turn.read(i)[:, :, :rows], k)
            for x, kept in zip(steps_x, tf.unstack(keep[start:start + k, :, :rows], k)):
                h_rows, c_rows = cell(x, kept, h_rows, c_rows)
            h_next, c_next = (tf.pad(state, [[0, 0], [0, batch - rows], [0, 0]]) for state in (h_rows, c_rows))
            h_next.set_shape(h.shape)  # The loop's variables keep their shape.
            c_next.set_shape(c.shape)
            return i + 1, h_next, c_next

        zeros = tf.zeros([self.parts, batch, self.units], inputs.dtype)
        _, h, _ = tf.while_loop(lambda i, h, c: i < turns, turn, (tf.constant(0), zeros, zeros))
        h = tf.gather(h, rank, axis=1)  # Back to the batch's order.
        return tf.reshape(tf.transpose(h, [1, 0, 2]), [batch, self.parts * self.units])

    def _project_words(self, inputs: tf.Tensor, mask: tf.Tensor, extra: tf.Tensor, rank: tf.Tensor) -> tf.Tensor:
        """Every word's input projection, [time, parts, ranked rows, gates] (the loop's layout),
        zeros elsewhere.

        mask: [batch, time] with `extra` steps added in front of the inputs' own.
        """
        words = tf.where(mask)  # [words, 2]: (row, step) of every word.
        vectors = tf.gather_nd(inputs, words - tf.cast([0, extra], tf.int64))
        projections = tf.einsum("npe,peg->npg", tf.reshape(vectors, [-1, self.parts, self.input_dim]),
                                self.kernel) + self.bias  # [words, parts, gates]
        at = tf.stack([words[:, 1], tf.cast(tf.gather(rank, words[:, 0]), tf.int64)], axis=1)
        shape = tf.cast(tf.stack([tf.shape(mask)[1], tf.shape(mask)[0], self.parts, LSTM_GATES * self.units]),
                        tf.int64)
        return tf.transpose(tf.scatter_nd(at, projections, shape), [0, 2, 1, 3])

    def compute_mask(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> None:
        return None  # The output is one vector per document.


class _ReverseDocuments(keras.layers.Layer):
    """[0, 0, a, b, c] -> [0, 0, c, b, a]: each row's word vectors reversed, the padding left in
    front; the mask (which marks the words) is the same before and after."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, vectors: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        lengths = tf.math.count_nonzero(mask, axis=1, dtype=tf.int32)
        back_padded = tf.reverse(vectors, axis=[1])  # [c, b, a, 0, 0]
        return tf.reverse(tf.reverse_sequence(back_padded, lengths, seq_axis=1, batch_axis=0), axis=[1])


def _lstm_parts(trained: keras.Model, hparams: Hyperparameters) -> list[list[np.ndarray]]:
    """[kernel, recurrent kernel, bias] of every copy's LSTM of every direction, in part order."""
    n, units = hparams.ensemble_size, hparams.lstm_units
    layer = trained.get_layer(LSTM)
    directions = [layer.forward_layer, layer.backward_layer] if hparams.bidirectional else [layer]
    copies = list(zip(copy_blocks(hparams.embedding_dim, n), copy_blocks(units, n), lstm_columns(units, n)))
    parts = []
    for direction in directions:
        kernel, recurrent, bias = direction.get_weights()
        for rows, state, columns in copies:
            parts.append([kernel[rows][:, columns], recurrent[state][:, columns], bias[columns]])
    return parts


def can_fuse(hparams: Hyperparameters) -> bool:
    """Worth it with copies or two directions; needs the mask (padding skipped, not read)."""
    return hparams.lstm and hparams.mask_padding and (hparams.ensemble_size > 1 or hparams.bidirectional)


def fuse(trained: keras.Model, hparams: Hyperparameters) -> keras.Model:
    """The trained model's inputs -> [batch, 1] mean probability of the copies, with one LSTM loop."""
    if not can_fuse(hparams):
        raise ValueError("fusing needs mask_padding and more than one LSTM (copies or directions)")
    n = hparams.ensemble_size
    token_ids = keras.Input(shape=(None,), dtype="int64", name=features.TOKEN_IDS_KEY)
    embedding = keras.layers.Embedding(features.VOCAB_SIZE, n * hparams.embedding_dim, mask_zero=True,
                                       name=EMBEDDING)
    # Each word is embedded once and the backward stream reverses the vectors, so the whole
    # network downstream is a function of one [batch, time, E] tensor: the input word
    # attributions are taken against (components/attribution.py).
    streams = [embedding(token_ids)]
    if hparams.bidirectional:
        streams.append(_ReverseDocuments(name="reverse_documents")(streams[0]))
    # Part p = d*n + m (direction d, copy m) reads direction d's stream, copy m's columns:
    # input columns [p*embedding_dim, (p+1)*embedding_dim).
    x = streams[0] if len(streams) == 1 else keras.layers.Concatenate(name="both_directions")(streams)
    parts = _lstm_parts(trained, hparams)
    lstm = GroupedLSTM(len(parts), hparams.lstm_units, hparams.embedding_dim, name=LSTM)
    x = lstm(x)
    copied = []  # (fused layer, trained layer): the weights to carry over.
    for name in [dense_name(i) for i in range(len(hparams.dense_units))] + [last_dense_name(hparams)]:
        source = trained.get_layer(name)
        copied.append((keras.layers.Dense(source.units, activation=source.activation, name=name), source))
        x = copied[-1][0](x)
    inputs = [token_ids]
    if hparams.wide:
        terms = wide_inputs()
        inputs += terms
        wide = wide_layer(hparams)
        x = join_wide(x, wide(terms))
        copied.append((wide, trained.get_layer(WIDE)))
    fused = keras.Model(inputs, mean_over_copies(x), name=trained.name)

    embedding.set_weights(trained.get_layer(EMBEDDING).get_weights())
    lstm.set_weights([np.stack(weights) for weights in zip(*parts)])
    for layer, source in copied:
        layer.set_weights(source.get_weights())
    return fused
