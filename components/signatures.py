"""Serving signatures of the exported model; preprocessing runs inside each of them.

- serving_default:    raw `title`, `author`, `text` strings [batch] -> probability, label, token_count
- predict_examples:   serialized tf.Example [batch] -> probability, label, token_count (used by TFMA)
- transform_features: serialized tf.Example [batch] -> transformed features (TFMA slicing)
- explain:            raw `title`, `author`, `text` strings [batch] -> serving_default's outputs,
                      and tokens, attributions, baseline_probability (components/attribution.py)

`label` is 1 (unreliable) where probability >= the decision threshold stored in the model.
`token_count` is how many tokens the model read (after truncation to MAX_LENGTH): 0 for a
document with no a-z words (Cyrillic, CJK) or only stopwords, whose probability is the model's
answer to an empty input and says nothing about the article.

`explain` returns what serving_default's probability is made of: `tokens` [batch, n] are the
words the model read, as the cleaning leaves them before stemming (lowercased, stopwords
dropped, truncated as the Transform graph truncates), in document order, '' after a row's
last word; `attributions` [batch, n] is each word's share of the probability (positive:
toward unreliable), 0 at the padding. They add up to probability - baseline_probability, the
baseline being the article with every word read as the padding id's vector and, in a model
with a linear part, no term (its bias alone). That part reads the same truncated words
(preprocessing/tfidf.py), whose stems here give each word its terms (components/attribution.py).
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from components import attribution
from components.signature_names import (ATTRIBUTIONS, BASELINE_PROBABILITY, EXPLAIN, PADDING_TOKEN,
                                        PREDICTED_LABEL, PROBABILITY, TOKEN_COUNT, TOKENS)
from preprocessing import features, porter, text, tfidf

# The rule `explain` uses: the more faithful of the two by the deletion test
# (bench/bench_explain.py, bench/results/explain.json).
EXPLAIN_RULE = attribution.INTEGRATED_GRADIENTS


class ServingModule(tf.Module):
    """Holds the model, the Transform graph and the threshold, so the SavedModel tracks them.

    Its signatures are traced without AutoGraph (components/keras_autograph.py)."""

    def __init__(self, model: keras.Model, tf_transform_output: tft.TFTransformOutput, threshold: float,
                 trim_padding: bool = False):
        super().__init__()
        self.model = model
        self._trim_padding = trim_padding
        self.tft_layer = tf_transform_output.transform_features_layer()
        self.threshold = tf.Variable(threshold, dtype=tf.float32, trainable=False, name="threshold")
        raw_spec = tf_transform_output.raw_feature_spec()
        # Clients send articles: neither the label nor the row id is theirs to give, and the
        # Transform graph does not read the id.
        for key in (features.LABEL_KEY, features.ID_KEY):
            raw_spec.pop(key, None)
        self._raw_spec = raw_spec
        self._view = attribution.ModelView(model)
        if self._view.wide is not None:
            # term -> id, the Transform graph's own (its vocabulary file, an asset of the SavedModel).
            self._term_ids = tfidf.term_table(tf_transform_output.vocabulary_file_by_name(features.TFIDF_VOCABULARY))
        self._truncating = self._truncation_side()

    def _truncation_side(self) -> str:
        """How the Transform graph cuts a long document, read back from the graph itself (it
        was traced with the pipeline's `truncating`), so the explanation's words cannot be
        cut differently: one word, then MAX_LENGTH of another, keeps the first word only
        when the graph keeps a document's first words."""
        first, rest = "alpha", "omega"
        long_text = " ".join([first] + [rest] * features.MAX_LENGTH)
        strings = {key: tf.constant([long_text if key == "text" else ""]) for key in features.TEXT_KEYS}
        ids = self.tft_layer(self._raw_from_strings(strings))[features.TOKEN_IDS_KEY].numpy()[0]
        return "post" if ids[0] != ids[1] else "pre"

    def _predict(self, transformed: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        token_ids = transformed[features.TOKEN_IDS_KEY]
        # A masked model reads a request only up to its longest document.
        read = text.trim_padding(token_ids) if self._trim_padding else token_ids
        # The model's inputs are named after the Transform outputs it reads (components.model.input_keys).
        inputs = {**transformed, features.TOKEN_IDS_KEY: read}
        probability = self.model({key: inputs[key] for key in self.model.input_names}, training=False)
        return self._served(tf.reshape(probability, [-1]), token_ids)

    def _served(self, probability: tf.Tensor, token_ids: tf.Tensor) -> dict[str, tf.Tensor]:
        return {
            PROBABILITY: probability,
            PREDICTED_LABEL: tf.cast(probability >= self.threshold, tf.int64),
            TOKEN_COUNT: tf.cast(text.document_lengths(token_ids), tf.int64),
        }

    def _raw_from_strings(self, strings: dict[str, tf.Tensor]) -> dict[str, tf.Tensor | tf.SparseTensor]:
        """Shapes [batch] strings the way the Transform graph was traced (sparse if optional)."""
        raw = {}
        for key, spec in self._raw_spec.items():
            if key not in strings:
                continue
            if isinstance(spec, tf.io.VarLenFeature):
                raw[key] = tf.sparse.from_dense(tf.expand_dims(strings[key], 1))  # '' = missing.
            else:
                raw[key] = tf.expand_dims(strings[key], 1) if len(spec.shape) else strings[key]
        return raw

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name=key) for key in features.TEXT_KEYS
    ], autograph=False)
    def serve_raw_text(self, title: tf.Tensor, author: tf.Tensor, text: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = self._raw_from_strings(dict(zip(features.TEXT_KEYS, (title, author, text))))
        return self._predict(self.tft_layer(raw))

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name=key) for key in features.TEXT_KEYS
    ], autograph=False)
    def explain(self, title: tf.Tensor, author: tf.Tensor, text: tf.Tensor) -> dict[str, tf.Tensor]:
        return self._explain(dict(zip(features.TEXT_KEYS, (title, author, text))))

    def _explain(self, strings: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        transformed = self.tft_layer(self._raw_from_strings(strings))
        token_ids = transformed[features.TOKEN_IDS_KEY]
        # A column the Transform graph was not traced with reads as '' there, so here too.
        empty = tf.fill(tf.shape(strings["text"]), "")
        fields = [strings[key] if key in self._raw_spec else empty for key in features.TEXT_KEYS]
        words = text.words_read(text.join_fields(*fields), features.MAX_LENGTH, self._truncating)
        read = {features.TOKEN_IDS_KEY: token_ids}
        if self._view.wide is not None:
            read[attribution.WIDE_LOGITS] = self._wide_logits(words, transformed)
        for key in self._view.held_keys:
            read[key] = transformed[key]
        attributions, probability, baseline = attribution.attribute(self._view, read, EXPLAIN_RULE,
                                                                    self._trim_padding)
        return {
            # The same network on the same ids as serving_default, in a batch with the path's points
            # (a wide logit as the sum of its words' parts: equal to float rounding).
            **self._served(probability, token_ids),
            TOKENS: words.to_tensor(default_value=PADDING_TOKEN),
            ATTRIBUTIONS: text.unpad_front(attributions, token_ids).to_tensor(default_value=0.0),
            BASELINE_PROBABILITY: baseline,
        }

    def _wide_logits(self, words: tf.RaggedTensor, transformed: dict[str, tf.Tensor]) -> tf.Tensor:
        """[batch, MAX_LENGTH]: each word's part of the linear part's logit, laid out as the token ids."""
        stems = words.with_flat_values(porter.stem(words.flat_values))
        ids = transformed[features.TFIDF_IDS_KEY]
        logits = self._view.wide.term_logits(ids, transformed[features.TFIDF_WEIGHTS_KEY])
        return text.pad_front(tfidf.spread_over_words(stems, ids, logits, self._term_ids), features.MAX_LENGTH)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
    def serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, self._raw_spec)
        return self._predict(self.tft_layer(raw))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")], autograph=False)
    def transform_features(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, self._raw_spec)
        # A signature returns dense tensors only: the sparse TF-IDF stays inside the model's graph.
        return {key: value for key, value in self.tft_layer(raw).items() if isinstance(value, tf.Tensor)}

    def signatures(self) -> dict[str, Callable]:
        return {
            "serving_default": self.serve_raw_text,
            "predict_examples": self.serve_examples,
            "transform_features": self.transform_features,
            EXPLAIN: self.explain,
        }


def export(model: keras.Model, tf_transform_output: tft.TFTransformOutput, threshold: float, path: str,
           trim_padding: bool = False) -> None:
    """Saves `model` (the uncompiled serving view, `components.model.serving_model`) with the
    Transform graph and the threshold as a SavedModel with the four signatures."""
    module = ServingModule(model, tf_transform_output, threshold, trim_padding)
    tf.saved_model.save(module, path, signatures=module.signatures())
