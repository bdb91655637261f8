"""Word attributions: how far each word the model read moved its probability toward "unreliable".

Integrated gradients (Sundararajan et al., 2017): each word's input moves along a straight
line from a baseline to its value while the rest of the document does the same, and the
gradient of the probability along that path, times the distance travelled, is the word's
share. The shares add up to probability(input) - probability(baseline) ("completeness"); a
positive share pushed toward unreliable, a negative one toward reliable. The path integral is
taken at 16 Gauss-Legendre points. The network's ReLUs and saturating sigmoids make some
articles' probability turn sharply over a short stretch of the path, which 16 fixed points
straddle; completeness is then the error estimate, as the method's authors advise: an article
whose shares miss the change is integrated again, with more points placed where its
probability moved (`_refined_points`). `GRADIENT_X_INPUT` is the one-point form: the gradient
at the input only.

All in TensorFlow ops with tf.GradientTape, so the attributions run inside a SavedModel
signature (components/signatures.py) with no Python at request time.

What the attributions are taken against is a `WordView` of the model: the inputs that sit one
per word, each with its baseline, and the probability as a function of them. `ModelView` is
the view of every exported network (components/model.py, components/fused.py): the embedding
vectors of the LSTM part, baseline the padding id's vector; and for a linear (wide) part, each
word's part of its logit (`WIDE_LOGITS`: its terms' weight x TF-IDF weight, spread over the
words they cover, preprocessing/tfidf.py), baseline 0, the bias staying. The wide logit is the
sum of those parts, so its words get their weight x feature value from the same integral,
scaled by the sigmoid's mean slope along the path (the same for every word of the article in
the linear model alone): which is what keeps the shares summing to the change. A style part
(preprocessing/style.py) and an author part (preprocessing/author.py) read the document's
style and author, not its words: they stay at the document's own values along the path
(`HELD_KEYS`), so the baseline is "no words, this style, this author", and the shares are
what the words add to what those say.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Mapping

import numpy as np
import tensorflow as tf
import tf_keras as keras

from components.model import EMBEDDING, LinearOverTerms
from preprocessing import features, text

# Quadrature steps of the integral: the explanation promises at least 16.
INTEGRATED_GRADIENTS_STEPS = 16
# An article whose shares miss the change from the baseline by more than this share of the
# change (or, where the change is below a point of probability, of one point: 0.01) is
# integrated again with REFINED_STEPS points placed where its probability moves
# (`_refined_points`). Half the 5 % the explanation promises, so what is kept has room to spare.
COMPLETENESS_TOLERANCE = 0.025
COMPLETENESS_FLOOR = COMPLETENESS_TOLERANCE * 0.01
REFINED_STEPS = 48
REFINED_INTERVALS = 16  # Pieces of the path in the second integration, 3 points each.
# Articles whose gradients one pass computes (points x articles rows of the network). A pass
# holds every LSTM step's activations of its rows for the backward pass, so memory grows with
# rows x document length; a 64-article request of 500-word articles runs in 16 passes.
ARTICLES_PER_PASS = 4


@dataclasses.dataclass(frozen=True)
class PathRule:
    """Where on the path from baseline (0) to input (1) the gradient is taken, and its weights."""

    name: str
    points: tuple[float, ...]
    weights: tuple[float, ...]  # Sum to 1: the mean gradient along the path.
    refine: bool = False  # Integrate again, at REFINED_STEPS points, an article that misses completeness.


def _gauss_legendre(steps: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    nodes, weights = np.polynomial.legendre.leggauss(steps)  # On [-1, 1], weights sum to 2.
    return tuple((nodes + 1) / 2), tuple(weights / 2)


INTEGRATED_GRADIENTS = PathRule("integrated_gradients", *_gauss_legendre(INTEGRATED_GRADIENTS_STEPS), refine=True)
GRADIENT_X_INPUT = PathRule("gradient_x_input", (1.0,), (1.0,))


@dataclasses.dataclass(frozen=True)
class WordInput:
    """One input of the model with a value per word: [batch, time, ...], word t at [:, t]."""

    value: tf.Tensor
    baseline: tf.Tensor  # Broadcasts against value.


# The document as a view reads it: [batch, time] tensors, one value per word, pre-padded like
# the token ids (always under features.TOKEN_IDS_KEY).
Words = Mapping[str, tf.Tensor]
# Each word's part of the linear part's logit, bias excluded: 0 at padding.
WIDE_LOGITS = "wide_logits"
HELD_KEYS = (features.STYLE_KEY, features.AUTHOR_ID_KEY)  # Model inputs the path leaves as they are.


class WordView(abc.ABC):
    """A model as a function of inputs that come one per word of the (pre-padded) token ids."""

    @abc.abstractmethod
    def word_inputs(self, words: Words) -> list[WordInput]:
        """Everything the probability reads per word; padding must equal the baseline."""

    @abc.abstractmethod
    def probability(self, values: list[tf.Tensor], words: Words) -> tf.Tensor:
        """[batch] probability from the word inputs' values (in `word_inputs`' order).

        words: the document the values belong to, for what the path does not move (the mask)."""


class ModelView(WordView):
    """The exported network split where it reads words: token ids -> word vectors (its one
    Embedding), and TF-IDF -> the linear part's logit, as `WIDE_LOGITS` per word plus the bias.

    Needs a network in which everything downstream reads those two outputs, as
    components/model.py and components/fused.py build it (one lookup per word; the backward
    stream reverses the vectors). With a masked embedding the mask stays that of the document
    along the path, so every word is still read, as the padding id's vector at the baseline.
    """

    def __init__(self, model: keras.Model):
        # The word embedding, by name: the author part is an Embedding too, of author ids.
        embeddings = [layer for layer in model.layers
                      if isinstance(layer, keras.layers.Embedding) and layer.name == EMBEDDING]
        wide = [layer for layer in model.layers if isinstance(layer, LinearOverTerms)]
        if len(embeddings) > 1 or len(wide) > 1 or not (embeddings or wide):
            raise ValueError(f"model {model.name} has {len(embeddings)} Embedding and {len(wide)} linear "
                             "layers; attributions need at most one of each, and one at least")
        self.embedding = embeddings[0] if embeddings else None
        self.wide = wide[0] if wide else None
        # What the words do not move: the style features and the author id, inputs of the model's own.
        held = [(name, tensor) for name, tensor in zip(model.input_names, model.inputs) if name in HELD_KEYS]
        self.held_keys = [name for name, _ in held]
        splits = [layer.output for layer in (self.embedding, self.wide) if layer is not None] + [t for _, t in held]
        self.downstream = keras.Model(splits if len(splits) > 1 else splits[0], model.output,
                                      name=f"{model.name}_from_words")

    def word_inputs(self, words: Words) -> list[WordInput]:
        inputs = []
        if self.embedding is not None:
            padding = tf.gather(self.embedding.embeddings, features.PAD_ID)
            inputs.append(WordInput(self.embedding(words[features.TOKEN_IDS_KEY]), padding))
        if self.wide is not None:
            inputs.append(WordInput(words[WIDE_LOGITS], tf.constant(0.0)))
        return inputs

    def probability(self, values: list[tf.Tensor], words: Words) -> tf.Tensor:
        inputs, masks = [], []
        if self.embedding is not None:
            inputs.append(values[0])
            masks.append(tf.not_equal(words[features.TOKEN_IDS_KEY], features.PAD_ID)
                         if self.embedding.mask_zero else None)
        if self.wide is not None:
            inputs.append(tf.reduce_sum(values[-1], axis=1, keepdims=True) + self.wide.bias_in_use())
            masks.append(None)
        for key in self.held_keys:
            inputs.append(words[key])
            masks.append(None)
        if len(inputs) == 1:
            return tf.reshape(self.downstream(inputs[0], training=False, mask=masks[0]), [-1])
        return tf.reshape(self.downstream(inputs, training=False, mask=masks), [-1])


def _rows(words: Words, start: tf.Tensor, end: tf.Tensor) -> dict[str, tf.Tensor]:
    return {key: value[start:end] for key, value in words.items()}


def _at_every_point(value: tf.Tensor, points: tf.Tensor) -> tf.Tensor:
    """[batch, ...] -> [points * batch, ...]: row k * batch + j is row j, for every point k."""
    return tf.tile(value, [points] + [1] * (value.shape.rank - 1))


def _path_pass(view: WordView, words: Words, alphas: tf.Tensor,
               weights: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """sum_k weights[k] * gradient at alphas[k] . (input - baseline), per word: [batch, time];
    and the probability at every point, [points, batch].

    alphas, weights: [points, batch], each article's own points on its path. One run of the
    network over points x batch rows: row k * batch + j is article j at alphas[k, j].
    """
    points = tf.shape(alphas)[0]
    inputs = view.word_inputs(words)
    on_path = []
    for word_input in inputs:
        value = tf.convert_to_tensor(word_input.value)
        baseline = tf.broadcast_to(word_input.baseline, tf.shape(value))
        alpha = tf.reshape(alphas, [-1] + [1] * (value.shape.rank - 1))
        on_path.append(_at_every_point(baseline, points) + alpha * _at_every_point(value - baseline, points))
    with tf.GradientTape() as tape:
        tape.watch(on_path)
        # Rows are independent, so the gradient of the sum is each row's own gradient.
        probability = view.probability(on_path, {key: _at_every_point(value, points) for key, value in words.items()})
    gradients = tape.gradient(probability, on_path)
    attributions = tf.zeros(tf.shape(words[features.TOKEN_IDS_KEY]), tf.float32)
    for word_input, gradient in zip(inputs, gradients):
        value = tf.convert_to_tensor(word_input.value)
        per_point = tf.reshape(gradient, tf.concat([[points], tf.shape(value)], axis=0))
        weight = tf.reshape(weights, tf.concat([tf.shape(weights), tf.ones([value.shape.rank - 1], tf.int32)], 0))
        share = tf.reduce_sum(weight * per_point, axis=0) * (value - word_input.baseline)
        attributions += tf.reduce_sum(share, axis=tf.range(2, tf.rank(share)))  # One per word.
    return attributions, tf.reshape(probability, [points, -1])


def _refined_points(alphas: tf.Tensor, probabilities: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """REFINED_STEPS points and weights for one article's integral, dense where its probability moves.

    alphas, probabilities: where the path was sampled, ascending from 0 to 1. [0, 1] is cut
    into REFINED_INTERVALS pieces, each holding an equal share of the path's "mass": how far
    the probability moved over it, plus as much again spread evenly (so no stretch is left
    out), interpolated linearly between the samples; each piece is integrated with
    Gauss-Legendre points. A probability that turns over a short stretch the first points
    straddle gets short pieces there; a smooth one, pieces about even.
    """
    widths = alphas[1:] - alphas[:-1]
    moves = tf.abs(probabilities[1:] - probabilities[:-1])
    masses = moves + widths * (tf.reduce_sum(moves) + 1e-12)
    cumulative = tf.concat([[0.0], tf.cumsum(masses) / tf.reduce_sum(masses)], axis=0)  # At each sample.
    quantiles = tf.linspace(0.0, 1.0, REFINED_INTERVALS + 1)
    segment = tf.clip_by_value(tf.searchsorted(cumulative, quantiles, side="right") - 1, 0, tf.shape(widths)[0] - 1)
    within = (quantiles - tf.gather(cumulative, segment)) / tf.gather(cumulative[1:] - cumulative[:-1], segment)
    edges = tf.gather(alphas[:-1], segment) + tf.clip_by_value(within, 0.0, 1.0) * tf.gather(widths, segment)
    nodes, weights = (tf.constant(values, tf.float32)
                      for values in _gauss_legendre(REFINED_STEPS // REFINED_INTERVALS))
    lengths = (edges[1:] - edges[:-1])[:, None]
    return tf.reshape(edges[:-1, None] + lengths * nodes, [-1]), tf.reshape(lengths * weights, [-1])


def _one_pass(view: WordView, words: Words, rule: PathRule) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """[batch, time] attributions, [batch] probability and baseline probability of a few articles.

    The probabilities come from the same batch as the gradients, as the path's ends (weight 0):
    one run of the network's loop rather than three. With `rule.refine`, an article whose
    shares do not add up to its change within COMPLETENESS_TOLERANCE is integrated again.
    """
    batch = tf.shape(words[features.TOKEN_IDS_KEY])[0]
    points = tf.constant((1.0, 0.0, *rule.points), tf.float32)[:, None] * tf.ones([1, batch])
    weights = tf.constant((0.0, 0.0, *rule.weights), tf.float32)[:, None] * tf.ones([1, batch])
    attributions, at_points = _path_pass(view, words, points, weights)
    probability, baseline = at_points[0], at_points[1]
    if not rule.refine:
        return attributions, probability, baseline

    change = probability - baseline
    missed = tf.abs(tf.reduce_sum(attributions, axis=1) - change)
    redo = tf.reshape(tf.where(missed > tf.maximum(COMPLETENESS_TOLERANCE * tf.abs(change), COMPLETENESS_FLOOR)), [-1])
    # The path as sampled, ascending: baseline, the rule's points (ascending), input.
    sampled_alphas = tf.concat([[0.0], rule.points, [1.0]], axis=0)
    sampled = tf.concat([at_points[1:2], at_points[2:], at_points[:1]], axis=0)  # [points, batch]

    def again(i: tf.Tensor, attributions: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        article = redo[i]
        refined, refined_weights = _refined_points(sampled_alphas, sampled[:, article])
        shares, _ = _path_pass(view, _rows(words, article, article + 1), refined[:, None], refined_weights[:, None])
        return i + 1, tf.tensor_scatter_nd_update(attributions, [[article]], shares)

    _, attributions = tf.while_loop(lambda i, _: i < tf.shape(redo)[0], again, (tf.constant(0), attributions))
    return attributions, probability, baseline


def attribute(view: WordView, words: Words, rule: PathRule = INTEGRATED_GRADIENTS,
              trim_padding: bool = False) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Each word's share of the probability, the probability, and the baseline's probability.

    words: the document as `view` reads it (`Words`), token ids [batch, time] pre-padded, as the
    model reads them. Returns attributions [batch, time] (0 at padding), the probability and the
    baseline probability [batch]. The batch goes through in passes of at most
    ARTICLES_PER_PASS articles; trim_padding (for a model that masks padding) cuts each pass to
    its own longest document.
    """
    token_ids = words[features.TOKEN_IDS_KEY]
    batch, time = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
    passes = (batch + ARTICLES_PER_PASS - 1) // ARTICLES_PER_PASS

    def one(i: tf.Tensor, *arrays: tf.TensorArray) -> tuple:
        rows = _rows(words, i * ARTICLES_PER_PASS, (i + 1) * ARTICLES_PER_PASS)
        if trim_padding:
            width = tf.shape(text.trim_padding(rows[features.TOKEN_IDS_KEY]))[1]
            rows = {key: value[:, time - width:] for key, value in rows.items()}
        attributions, probability, baseline = _one_pass(view, rows, rule)
        attributions = tf.pad(attributions, [[0, 0], [time - tf.shape(attributions)[1], 0]])
        return (i + 1, *(array.write(i, part) for array, part in zip(arrays, (attributions, probability, baseline))))

    arrays = [tf.TensorArray(tf.float32, size=passes, infer_shape=False, element_shape=shape)
              for shape in ([None, None], [None], [None])]
    _, *arrays = tf.while_loop(lambda i, *_: i < passes, one, (tf.constant(0), *arrays))
    attributions, probability, baseline = (array.concat() for array in arrays)
    return tf.reshape(attributions, [batch, time]), tf.reshape(probability, [batch]), tf.reshape(baseline, [batch])
