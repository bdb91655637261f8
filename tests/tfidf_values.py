"""The Transform graph's TF-IDF of raw rows, as Python dicts, for the tests that check it
(tests/test_tfidf.py) and the attributions built on it (tests/test_explain_wide.py)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_transform as tft

from preprocessing import features


def vocabulary(transform_output: tft.TFTransformOutput) -> list[str]:
    """The vocabulary file's terms, in id order (its lines are "<document frequency> <term>")."""
    return [line.decode().split(" ", 1)[1] for line in transform_output.vocabulary_by_name(features.TFIDF_VOCABULARY)]


def graph_tfidf(transform_output: tft.TFTransformOutput, rows: list[dict[str, str]]) -> list[dict[str, float]]:
    """Each row's {term: weight}, through the Transform graph, fed as the Trainer's examples are."""
    raw = {key: tf.sparse.from_dense(tf.constant([[row[key]] for row in rows])) for key in features.TEXT_KEYS}
    transformed = transform_output.transform_raw_features(raw)
    terms = vocabulary(transform_output)
    ids = tf.RaggedTensor.from_sparse(transformed[features.TFIDF_IDS_KEY]).to_list()
    weights = tf.RaggedTensor.from_sparse(transformed[features.TFIDF_WEIGHTS_KEY]).to_list()
    return [{terms[i]: w for i, w in zip(row_ids, row_weights)} for row_ids, row_weights in zip(ids, weights)]
