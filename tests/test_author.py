"""The author id the graph computes (preprocessing/author.py): the author field read as Python's
`" ".join(value.split())` and lowercased, hashed by TensorFlow's FarmHash, 0 for none, on every
author of the real data sets; and the Transform graph hands it to the model for raw requests."""

from __future__ import annotations

import string

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from preprocessing import author, features
from tests.data import read_rows, serialized_example

_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _reference_ids(authors: list[str]) -> np.ndarray:
    """Plain-Python normalization; the same hash function (TensorFlow's, not Python's salted one)."""
    keys = [" ".join(value.split()).translate(_ASCII_LOWER) for value in authors]
    hashed = tf.strings.to_hash_bucket_fast(keys, features.AUTHOR_BUCKETS - 1).numpy() + 1
    return np.where([key == "" for key in keys], author.NO_AUTHOR, hashed)


def _graph_ids(authors: list[str]) -> np.ndarray:
    return author.author_id(tf.constant(authors)).numpy()


def test_graph_ids_equal_the_reference_on_every_author_of_the_real_data():
    authors = sorted({row["author"] for name in ("articles.csv", "liar_binary.csv") for row in read_rows(name)})
    assert len(authors) > 3_000 and "" in authors
    np.testing.assert_array_equal(_graph_ids(authors), _reference_ids(authors))


def test_one_author_written_differently_is_one_id_and_a_blank_one_is_none():
    ids = _graph_ids(["Marco Rubio", " marco\n\nRUBIO\t", "marco\u00a0rubio", "marco-rubio", "", " \u2028 ", "Ém Dash"])
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert ids[4] == ids[5] == author.NO_AUTHOR
    assert ids[6] == _reference_ids(["Ém Dash"])[0]  # ASCII lowercasing, as the cleaning's.
    assert np.all(ids[[0, 3, 6]] >= 1) and np.all(ids < features.AUTHOR_BUCKETS)


def test_liars_speakers_share_few_ids():
    speakers = sorted({" ".join(row["author"].split()).lower() for row in read_rows("liar_binary.csv")} - {""})
    shared = len(speakers) - len(set(_graph_ids(speakers)))
    # About n^2 / (2 * buckets) pairs are expected to collide: 21 for LIAR's 3,318 speakers.
    expected = len(speakers) ** 2 / (2 * features.AUTHOR_BUCKETS)
    assert len(speakers) == 3_318 and shared <= 2 * expected


def test_the_transform_graph_gives_raw_examples_their_authors_id(fixture_model):
    """As TF Serving's raw examples reach it: a missing author is an absent feature."""
    rows = read_rows("liar_binary.csv", 40) + [{"title": "t", "author": "", "text": "words"}]
    output = tft.TFTransformOutput(fixture_model.transform_output)
    text_spec = {key: spec for key, spec in output.raw_feature_spec().items() if key in features.TEXT_KEYS}
    raw = tf.io.parse_example([serialized_example(row) for row in rows], text_spec)
    transformed = output.transform_raw_features(raw)
    np.testing.assert_array_equal(transformed[features.AUTHOR_ID_KEY].numpy(),
                                  _reference_ids([row["author"] for row in rows]))
    assert transformed[features.AUTHOR_ID_KEY].numpy()[-1] == author.NO_AUTHOR
