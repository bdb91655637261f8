"""The report's explanations read from a real model: the eval split's articles as the ExampleGen
writes them, through the pushed fixture model's explain signature (components/report/inputs.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components import signatures
from components.report import explanations, inputs
from preprocessing import features
from tests.data import read_rows, serialized_example

ROWS = 12


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows("articles.csv", limit=ROWS)


@pytest.fixture(scope="module")
def examples(tmp_path_factory, rows) -> standard_artifacts.Examples:
    """An Examples artifact with the rows as its eval split, gzipped tf.Examples as ExampleGen writes."""
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path_factory.mktemp("examples"))
    artifact.split_names = artifact_utils.encode_split_names(["train", inputs.EVAL_SPLIT])
    split = artifact_utils.get_split_uri([artifact], inputs.EVAL_SPLIT)
    os.makedirs(split)
    with tf.io.TFRecordWriter(os.path.join(split, "data_tfrecord-00000-of-00001.gz"), options="GZIP") as writer:
        for row in rows:
            writer.write(serialized_example(row, with_label=True))
    return artifact


@pytest.fixture(scope="module")
def loaded(fixture_saved_model):
    return fixture_saved_model


def test_the_eval_split_is_read_as_the_articles_text(examples, rows):
    articles = inputs.eval_articles(examples)
    assert articles == {key: [row[key] for row in rows] for key in features.TEXT_KEYS}


def test_each_article_is_explained_as_the_signature_explains_it(loaded, examples, rows):
    explained = inputs.explain(loaded, inputs.eval_articles(examples))
    out = loaded.signatures[signatures.EXPLAIN](**{key: tf.constant([row[key] for row in rows])
                                                   for key in features.TEXT_KEYS})
    assert len(explained) == ROWS
    for article, probability, label, tokens, shares in zip(
            explained, out[signatures.PROBABILITY].numpy(), out[signatures.PREDICTED_LABEL].numpy(),
            out[signatures.TOKENS].numpy(), out[signatures.ATTRIBUTIONS].numpy()):
        assert (article.probability, article.label) == (pytest.approx(float(probability), abs=1e-6), label)
        assert [word for word, _ in article.words] == [token.decode() for token in tokens if token]
        np.testing.assert_allclose([share for _, share in article.words], shares[:len(article.words)], atol=1e-6)
    summary = explanations.summarize(explained)
    assert summary.articles == ROWS and summary.example in explained


def test_a_long_eval_split_is_explained_on_an_evenly_spaced_sample(examples, rows):
    """Explaining costs some twenty network passes an article: the report explains at most
    EXPLAINED_ARTICLES of the eval split, spread over all of it, the same ones each time."""
    assert explanations.sample(ROWS) == list(range(ROWS))  # A short split: every article.
    chosen = explanations.sample(10_000)
    assert len(chosen) == explanations.EXPLAINED_ARTICLES == len(set(chosen))
    assert chosen[0] == 0 and chosen[-1] >= 10_000 - 10_000 // explanations.EXPLAINED_ARTICLES - 1
    assert chosen == sorted(chosen) and chosen == explanations.sample(10_000)
    assert inputs.sampled(inputs.eval_articles(examples)) == {key: [row[key] for row in rows] for key in features.TEXT_KEYS}
    many = {key: [f"{key} {i}" for i in range(10_000)] for key in features.TEXT_KEYS}
    assert inputs.sampled(many) == {key: [column[i] for i in chosen] for key, column in many.items()}
