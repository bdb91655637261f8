"""Training = serving = notebook: the exported model's own Transform graph turns raw articles
into exactly the ids the notebook's Python cleaning (NLTK) gives, hashed the same way."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import features, text
from tests import reference
from tests.data import read_rows, serialized_example

pytestmark = pytest.mark.e2e

ROWS = 2_000


def notebook_ids(rows: list[dict[str, str]]) -> np.ndarray:
    """The notebook's cleaning in Python + NLTK, then the project's hash and pre-padding."""
    tokens = tf.ragged.constant(
        [reference.clean(reference.join_fields(*(row[k] for k in features.TEXT_KEYS))) for row in rows],
        dtype=tf.string, ragged_rank=1,
    )
    return text.pad_front(text.hash_tokens(tokens)).numpy()


def test_serving_graph_ids_equal_the_notebook_cleaning_on_2000_articles(pipeline_run):
    rows = read_rows("articles.csv", limit=ROWS)
    served = tf.saved_model.load(pipeline_run.summary.pushed_path)
    transform = served.signatures["transform_features"]
    graph_ids = np.concatenate([
        transform(examples=tf.constant([serialized_example(row) for row in rows[start:start + 250]]))[
            features.TOKEN_IDS_KEY].numpy()
        for start in range(0, ROWS, 250)
    ])
    expected = notebook_ids(rows)
    differing = [rows[i]["id"] for i in np.flatnonzero((graph_ids != expected).any(axis=1))]
    assert not differing, f"{len(differing)} of {ROWS} rows differ, e.g. {differing[:10]}"
    assert np.count_nonzero(expected) > 50 * ROWS  # Real articles, not empty ones.
