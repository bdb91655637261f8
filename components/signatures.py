"""Serving signatures of the exported model; preprocessing runs inside each of them.

- serving_default:    raw `title`, `author`, `text` strings [batch] -> probability, label, token_count
- predict_examples:   serialized tf.Example [batch] -> probability, label, token_count (used by TFMA)
- transform_features: serialized tf.Example [batch] -> transformed features (TFMA slicing)

`label` is 1 (unreliable) where probability >= the decision threshold stored in the model.
`token_count` is how many tokens the model read (after truncation to MAX_LENGTH): 0 for a
document with no a-z words (Cyrillic, CJK) or only stopwords, whose probability is the model's
answer to an empty input and says nothing about the article.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from preprocessing import features, text

PROBABILITY = "probability"
PREDICTED_LABEL = "label"
TOKEN_COUNT = "token_count"


class ServingModule(tf.Module):
    """Holds the model, the Transform graph and the threshold, so the SavedModel tracks them."""

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

    def _predict(self, transformed: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        token_ids = transformed[features.TOKEN_IDS_KEY]
        token_count = tf.cast(text.document_lengths(token_ids), tf.int64)
        if self._trim_padding:  # A masked model reads a request only up to its longest document.
            token_ids = text.trim_padding(token_ids)
        # The model's inputs are named after the Transform outputs it reads (components.model.input_keys).
        inputs = {**transformed, features.TOKEN_IDS_KEY: token_ids}
        probability = tf.reshape(self.model({key: inputs[key] for key in self.model.input_names}, training=False), [-1])
        return {
            PROBABILITY: probability,
            PREDICTED_LABEL: tf.cast(probability >= self.threshold, tf.int64),
            TOKEN_COUNT: token_count,
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
    ])
    def serve_raw_text(self, title: tf.Tensor, author: tf.Tensor, text: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = self._raw_from_strings(dict(zip(features.TEXT_KEYS, (title, author, text))))
        return self._predict(self.tft_layer(raw))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def serve_examples(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, self._raw_spec)
        return self._predict(self.tft_layer(raw))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="examples")])
    def transform_features(self, examples: tf.Tensor) -> dict[str, tf.Tensor]:
        raw = tf.io.parse_example(examples, self._raw_spec)
        # A signature returns dense tensors only: the sparse TF-IDF stays inside the model's graph.
        return {key: value for key, value in self.tft_layer(raw).items() if isinstance(value, tf.Tensor)}

    def signatures(self) -> dict[str, Callable]:
        return {
            "serving_default": self.serve_raw_text,
            "predict_examples": self.serve_examples,
            "transform_features": self.transform_features,
        }


def export(model: keras.Model, tf_transform_output: tft.TFTransformOutput, threshold: float, path: str,
           trim_padding: bool = False) -> None:
    """Saves `model` (the uncompiled serving view, `components.model.serving_model`) with the
    Transform graph and the threshold as a SavedModel with the three signatures."""
    module = ServingModule(model, tf_transform_output, threshold, trim_padding)
    tf.saved_model.save(module, path, signatures=module.signatures())
