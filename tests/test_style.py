"""The style features the graph computes (preprocessing/style.py) equal the plain-Python
reference (tests/reference.py) on real articles and statements, to 1e-5; and their scaling
is the analyzed split's mean and variance, frozen into the graph."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from components import trainer
from preprocessing import features, style
from tests import reference
from tests.data import read_rows

ARTICLES = 600  # articles.csv's first rows: empty titles and texts, quotes, links, non-ASCII among them.


def _graph_style(rows: list[dict[str, str]]) -> np.ndarray:
    fields = {key: tf.constant([row[key] for row in rows]) for key in features.TEXT_KEYS}
    return style.raw_style(fields).numpy()


def _reference_style(rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([reference.style(*(row[key] for key in features.TEXT_KEYS)) for row in rows])


@pytest.mark.parametrize("name, limit", [("articles.csv", ARTICLES), ("liar_binary.csv", 300)])
def test_graph_style_equals_the_reference_on_real_rows(name, limit):
    rows = read_rows(name, limit)
    graph, expected = _graph_style(rows), _reference_style(rows)
    assert graph.shape == (len(rows), style.SIZE) == expected.shape
    np.testing.assert_allclose(graph, expected, rtol=1e-5, atol=1e-5)
    # The rows exercise every feature: none is constant over them but the ones LIAR lacks.
    varying = {style.NAMES[i] for i in np.flatnonzero(expected.std(axis=0) > 0)}
    if name == "articles.csv":
        assert varying == set(style.NAMES)


def test_graph_style_of_written_cases():
    rows = [
        {"title": "", "author": "", "text": ""},
        {"title": "BREAKING!!! Is it TRUE?", "author": "Jane Roe", "text": 'He said "no" at http://x.io in 2016.'},
        {"title": "Café – naïve", "author": "", "text": "12345 !?\n\"\t"},
        # Whitespace as Python's str.split() knows it, ASCII and not; the author only spaces.
        {"title": "  Two\r\n\r\nlines\u3000and\xa0more\x1f ", "author": " \u2028 ", "text": "\tA\x0b\x0cb\x85c\u2009d  "},
    ]
    np.testing.assert_allclose(_graph_style(rows), _reference_style(rows), rtol=1e-6, atol=1e-6)
    empty = dict(zip(style.NAMES, _graph_style(rows[:1])[0]))
    assert empty["title_empty"] == empty["text_empty"] == empty["author_empty"] == 1.0
    assert empty["title_mean_word_length"] == 0.0  # No word: no mean, and no NaN.
    written = dict(zip(style.NAMES, _graph_style(rows[1:2])[0]))
    assert written["title_exclamations"] == pytest.approx(100 * 3 / 23)
    assert written["text_link"] == 1.0 and written["title_link"] == 0.0
    accented = dict(zip(style.NAMES, _graph_style(rows[2:])[0]))
    assert accented["title_non_ascii"] == pytest.approx(3 / 12)  # Code points, not UTF-8 bytes.
    spaced = dict(zip(style.NAMES, _graph_style(rows[3:])[0]))
    assert spaced["title_log_characters"] == pytest.approx(np.log1p(len("Two lines and more")))
    assert spaced["author_empty"] == 1.0


def test_joining_a_fields_lines_as_the_input_checks_do_changes_no_feature():
    """The checks turn a field's quoted newlines into spaces (components/input_checks.py); the
    same article sent raw must get its training row's features."""
    rows = [row for row in read_rows("articles.csv", ARTICLES) if "\n" in row["text"]]
    assert len(rows) >= 10
    joined = [{key: " ".join(value.split()) if key in features.TEXT_KEYS else value for key, value in row.items()}
              for row in rows]
    np.testing.assert_array_equal(_graph_style(rows), _graph_style(joined))


@pytest.mark.e2e  # The scaling's analysis (tests/fixture_model.py's TfidfGraph) runs on Beam.
def test_the_transform_graph_scales_each_feature_over_the_analyzed_articles(tfidf_graph):
    transform_output = tft.TFTransformOutput(tfidf_graph.transform_output)
    examples = trainer.read_examples([tfidf_graph.transformed_examples], transform_output)
    scaled = np.stack([inputs[features.STYLE_KEY].numpy() for inputs, _ in examples])
    assert scaled.shape[1] == style.SIZE
    constant = scaled.std(axis=0) == 0  # Only centred (none in articles.csv's first rows).
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(scaled.std(axis=0)[~constant], 1, atol=1e-3)
