"""The exported form of a trained model: the same function with one LSTM loop.

One article's latency is set by the number of LSTM steps, not their arithmetic, and a wide
LSTM whose weights are mostly zero blocks (the copies of `components.model`) wastes
arithmetic on them. Here every copy's forward *and* backward LSTM is its own part of one
`GroupedLSTM` loop, with only its own weights; the embedding and the dense layers are the
trained ones. A batch's cost follows its words rather than batch size x longest document
(`GroupedLSTM.call`).
The result equals the trained model's mean probability (to float rounding; a test checks it).
A wide, style or author part, if any, is the trained one, added to each copy's logit as in training.

The backward direction fits in the same loop because the documents are pre-padded: Keras'
backward LSTM reads `[0, 0, a, b, c]` as c, b, a and skips the masked padding, which gives
the same final state as reading `[0, 0, c, b, a]` forwards, so its parts step through each
document's words in reverse order, beside the forward parts.

The parts, in the order of the grouped state (n = ensemble_size), which is also the order of
the trained Bidirectional LSTM's output, so the dense layers' weights carry over unchanged:
    [forward copy 0, …, forward copy n-1, backward copy 0, …, backward copy n-1]
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.model import (AUTHOR_WEIGHTS, EMBEDDING, LSTM, LSTM_GATES, WIDE, author_input, author_layer,
                              copy_blocks, dense_name, join_logits, last_dense_name, lstm_columns,
                              mean_over_copies, style_input, style_part, wide_inputs, wide_layer)
from components.hyperparameters import Hyperparameters
from preprocessing import features


# Time steps per turn of the LSTM loop. Each turn costs the executor about as many control
# flow ops (Switch, Merge, NextIteration for every loop variable) as one step's arithmetic,
# so several steps a turn halve the ops run per step; a median article's request measured
# 0.3–0.5 ms faster at 5 than at 1, and no faster at 8 or 10.
STEPS_PER_ITERATION = 5
# The loop's gate order: Keras' (input, forget, cell, output) with the three sigmoid gates
# side by side, so that one sigmoid op computes them (`fuse` reorders the trained columns).
LOOP_GATES = (0, 1, 3, 2)


class GroupedLSTM(keras.layers.Layer):
    """`copies` x `directions` independent LSTMs of `units` each, in one loop.

    inputs [batch, time, copies * input_dim], pre-padded (a row's words are its last steps;
    the mask marks them), copy m reading columns [m*input_dim, (m+1)*input_dim)
    -> final states [batch, parts * units], part p = d*copies + m (direction d: 0 reads the
    words forwards, 1 backwards) at [p*units, (p+1)*units).

    Keras' LSTM arithmetic (sigmoid and tanh) in fewer ops per step: a turn's input
    projections, all parts' and steps', are one batched matmul, each step multiplies all
    parts' states by their own recurrent kernels in one batched matmul and takes one sigmoid
    of the three sigmoid gates (weights in LOOP_GATES order). The loop takes
    STEPS_PER_ITERATION steps a turn, after steps of padding in front round the document up
    to whole turns, and each turn runs only the rows whose document has begun (see `call`).
    """

    def __init__(self, copies: int, directions: int, units: int, input_dim: int, **kwargs):
        super().__init__(**kwargs)
        self.copies, self.directions, self.units, self.input_dim = copies, directions, units, input_dim
        self.parts = copies * directions
        self.supports_masking = True

    def build(self, input_shape: tf.TensorShape) -> None:
        gates = LSTM_GATES * self.units
        # The input kernel with the bias as its last row: the turns' inputs carry a 1 there at
        # words and 0 at padding (`_turn_inputs`), whose projection is then exactly zero.
        self.kernel = self.add_weight(name="kernel", shape=(self.parts, self.input_dim + 1, gates))
        self.recurrent_kernel = self.add_weight(name="recurrent_kernel", shape=(self.parts, self.units, gates))

    def call(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> tf.Tensor:
        """A batch is as long as its longest document, so in a mixed batch most rows are
        padding for most steps. The rows are ranked by their first word (longest document
        first); those that have begun by a turn's last step are a prefix of the ranking, each
        turn computes only that prefix, and the state grows by the rows that begin. The
        turns' inputs are laid out for exactly those rows and steps (`_turn_inputs`), so work
        and memory follow the words, not batch x steps.

        A padding step keeps the state without a select: it comes before the row's first
        word, where the state is still zero, and its input is zeros, the bias row's 1 included
        (`_turn_inputs`), so every gate reads 0 and the candidate tanh(0) = 0 leaves c = 0 and
        h = 0, exactly."""
        batch, steps = tf.shape(inputs)[0], tf.shape(inputs)[1]
        lengths = (tf.fill([batch], steps) if mask is None
                   else tf.math.count_nonzero(mask, axis=1, dtype=tf.int32))
        k = STEPS_PER_ITERATION
        turns = (steps + k - 1) // k
        order = tf.argsort(-lengths, stable=True)  # order[r]: the batch row ranked r.
        rank = tf.math.invert_permutation(order)
        first_word = turns * k - tf.gather(lengths, order)  # Of rank r, in steps rounded up to whole turns.
        begun = tf.reduce_sum(  # Rows begun by the end of each turn.
            tf.cast(first_word[None, :] < tf.range(k, turns * k + 1, k)[:, None], tf.int32), axis=1)
        per_turn = self._turn_inputs(inputs, lengths, order, first_word, begun)
        kernel = tf.convert_to_tensor(self.kernel)  # Read once, not every turn.
        # Rows that begin in each turn, as the state's paddings.
        growth = begun - tf.concat([[0], begun[:-1]], axis=0)
        paddings = tf.pad(growth[:, None, None], [[0, 0], [1, 1], [1, 0]])  # [turns, 3, 2]
        recurrent_kernel = tf.convert_to_tensor(self.recurrent_kernel)  # Read once, not every step.
        units, gates = self.units, LSTM_GATES * self.units

        def cell(x: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            z = x + tf.matmul(h, recurrent_kernel)  # [parts, rows, 4 * units]
            sigmoid_gates, candidate = tf.split(z, [3 * units, units], axis=-1)
            input_gate, forget_gate, output_gate = tf.split(tf.sigmoid(sigmoid_gates), 3, axis=-1)
            c_next = forget_gate * c + input_gate * tf.tanh(candidate)
            return output_gate * tf.tanh(c_next), c_next

        def turn(i: tf.Tensor, h: tf.Tensor, c: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            grown = paddings[i]
            h, c = tf.pad(h, grown), tf.pad(c, grown)  # The rows that begin start from zeros.
            x = tf.matmul(tf.reshape(per_turn.read(i), [self.parts, -1, self.input_dim + 1]), kernel)
            for step_x in tf.unstack(tf.reshape(x, [self.parts, k, -1, gates]), k, axis=1):
                h, c = cell(step_x, h, c)
            return i + 1, h, c

        zeros = tf.zeros([self.parts, 0, units], inputs.dtype)
        state = tf.TensorShape([self.parts, None, units])
        _, h, _ = tf.while_loop(lambda i, h, c: i < turns, turn, (tf.constant(0), zeros, zeros),
                                shape_invariants=(tf.TensorShape([]), state, state))
        h = tf.pad(h, [[0, 0], [0, batch - tf.shape(h)[1]], [0, 0]])  # Rows without a word: zeros.
        h = tf.gather(h, rank, axis=1)  # Back to the batch's order.
        return tf.reshape(tf.transpose(h, [1, 0, 2]), [batch, self.parts * units])

    def _turn_inputs(self, inputs: tf.Tensor, lengths: tf.Tensor, order: tf.Tensor, first_word: tf.Tensor,
                     begun: tf.Tensor) -> tf.TensorArray:
        """Turn i's inputs as element i of a TensorArray: [parts * k * begun[i], input_dim + 1],
        laid out [part, step of the turn, ranked row], each a word's vector and a 1, or zeros
        before a row's first word. The backward parts read each row's words in reverse order.

        Laid out before the projection, which the loop does a turn at a time, they are a
        quarter of the projections' size (input_dim + 1 against 4 x units numbers). A
        TensorArray element's gradient has the element's size, where slicing one tensor in
        the loop has a gradient of the whole tensor at every turn, which made the backward
        pass (components/attribution.py) quadratic in the document's length.
        """
        steps = tf.shape(inputs)[1]
        k, parts = STEPS_PER_ITERATION, self.parts
        # The words, row by row: row b's are its last lengths[b] steps.
        ends = tf.cumsum(lengths)  # Of each row's words among all words.
        starts = ends - lengths
        # tf.searchsorted is one op where tf.repeat is a dozen, and a request's ops are its latency.
        words = tf.range(tf.reduce_sum(lengths))
        word_rows = tf.searchsorted(ends, words, side="right")
        position = words - tf.gather(starts, word_rows)  # In its document.
        row_length = tf.gather(lengths, word_rows)
        vectors = tf.gather(tf.reshape(inputs, [-1, self.copies * self.input_dim]),
                            word_rows * steps + steps - row_length + position)  # [words, copies * E]
        if self.directions == 2:  # Word q of a document read backwards is word (length - 1 - q).
            backwards = tf.gather(vectors, tf.gather(starts, word_rows) + row_length - 1 - position)
            vectors = tf.concat([vectors, backwards], axis=1)
        vectors = tf.reshape(vectors, [-1, self.input_dim])  # Row word * parts + part.
        # Each (word, part) row with its 1; one zero row after them, read at padding.
        rows_read = tf.pad(tf.concat([vectors, tf.ones_like(vectors[:, :1])], axis=1), [[0, 1], [0, 0]])

        # Entry e of the turns' layout: turn, then part p, step j and ranked row r within it.
        sizes = parts * k * begun
        turn_ends = tf.cumsum(sizes)
        entries = tf.range(tf.reduce_sum(sizes))
        turn = tf.searchsorted(turn_ends, entries, side="right")
        rows = tf.gather(begun, turn)
        within = entries - tf.gather(turn_ends - sizes, turn)
        part, step, ranked = within // (k * rows), turn * k + (within // rows) % k, within % rows
        word = step - tf.gather(first_word, ranked)  # Position in its document; < 0 before it begins.
        source = tf.where(word >= 0, (tf.gather(starts, tf.gather(order, ranked)) + word) * parts + part,
                          tf.shape(rows_read)[0] - 1)
        return tf.TensorArray(inputs.dtype, size=tf.shape(begun)[0], element_shape=[None, self.input_dim + 1],
                              infer_shape=False).split(tf.gather(rows_read, source), sizes)

    def compute_mask(self, inputs: tf.Tensor, mask: tf.Tensor | None = None) -> None:
        return None  # The output is one vector per document.


def _lstm_parts(trained: keras.Model, hparams: Hyperparameters) -> list[list[np.ndarray]]:
    """[kernel with the bias as its last row, recurrent kernel] of every copy's LSTM of every
    direction, in part order."""
    n, units = hparams.ensemble_size, hparams.lstm_units
    layer = trained.get_layer(LSTM)
    directions = [layer.forward_layer, layer.backward_layer] if hparams.bidirectional else [layer]
    copies = list(zip(copy_blocks(hparams.embedding_dim, n), copy_blocks(units, n), lstm_columns(units, n)))
    parts = []
    for direction in directions:
        kernel, recurrent, bias = direction.get_weights()
        for rows, state, columns in copies:
            with_bias = np.concatenate([kernel[rows][:, columns], bias[None, columns]])
            parts.append([with_bias, recurrent[state][:, columns]])
    return parts


def _loop_gates(weights: np.ndarray) -> np.ndarray:
    """Keras' gate columns (last axis: input, forget, cell, output) in LOOP_GATES order."""
    gates = np.split(weights, LSTM_GATES, axis=-1)
    return np.concatenate([gates[gate] for gate in LOOP_GATES], axis=-1)


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
    # Each word is embedded once and the loop reads the vectors both ways, so the whole
    # network downstream is a function of one [batch, time, E] tensor: the input word
    # attributions are taken against (components/attribution.py).
    parts = _lstm_parts(trained, hparams)
    lstm = GroupedLSTM(n, 2 if hparams.bidirectional else 1, hparams.lstm_units, hparams.embedding_dim, name=LSTM)
    x = lstm(embedding(token_ids))
    copied = []  # (fused layer, trained layer): the weights to carry over.
    for name in [dense_name(i) for i in range(len(hparams.dense_units))] + [last_dense_name(hparams)]:
        source = trained.get_layer(name)
        copied.append((keras.layers.Dense(source.units, activation=source.activation, name=name), source))
        x = copied[-1][0](x)
    inputs, logits = [token_ids], []
    if hparams.wide:
        terms = wide_inputs()
        inputs += terms
        wide = wide_layer(hparams)
        logits.append(wide(terms))
        copied.append((wide, trained.get_layer(WIDE)))
    if hparams.style:
        style_features = style_input()
        inputs.append(style_features)
        style_model = keras.Model(style_features, style_part(hparams, style_features))
        logits.append(style_model.output)
        copied += [(layer, trained.get_layer(layer.name)) for layer in style_model.layers if layer.weights]
    if hparams.author:
        author_ids = author_input()
        inputs.append(author_ids)
        weights = author_layer(hparams)
        logits.append(weights(author_ids))
        copied.append((weights, trained.get_layer(AUTHOR_WEIGHTS)))
    if logits:
        x = join_logits(x, logits)
    fused = keras.Model(inputs, mean_over_copies(x), name=trained.name)

    embedding.set_weights(trained.get_layer(EMBEDDING).get_weights())
    lstm.set_weights([_loop_gates(np.stack(weights)) for weights in zip(*parts)])
    for layer, source in copied:
        layer.set_weights(source.get_weights())
    return fused
