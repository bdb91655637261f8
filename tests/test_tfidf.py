"""The TF-IDF the Transform graph computes (preprocessing/tfidf.py) equals scikit-learn's
`TfidfVectorizer` with the same settings, fitted on the same articles' tokens from the plain-
Python reference cleaning (tests/reference.py), truncated as the model reads them: the
vocabulary, and every weight to 1e-5.

The graph is a wide model's (TF-IDF on), analyzed over the fixture model's FIXTURE_ROWS
articles on Beam (tests/fixture_model.py), so these tests are e2e; the exported signatures
apply this same transform graph (components/signatures.py) to raw requests.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow_transform as tft
from sklearn.feature_extraction.text import TfidfVectorizer

from preprocessing import features
from preprocessing.tfidf import NGRAM_SEPARATOR
from tests import reference
from tests.data import read_rows
from tests.tfidf_values import graph_tfidf
from tests.fixture_model import FIXTURE_ROWS

pytestmark = pytest.mark.e2e  # tf.Transform's analysis of the TF-IDF runs on Beam.

HELD_OUT = 40  # Articles after the analyzed ones: their new terms must be dropped, as scikit-learn drops them.
LONG = 5  # Analyzed articles longer than MAX_LENGTH: the TF-IDF reads their last MAX_LENGTH words.


def _tokens(row: dict[str, str]) -> list[str]:
    """The stems the model reads: the pipeline truncates "pre", keeping the last MAX_LENGTH."""
    return _all_tokens(row)[-features.MAX_LENGTH:]


def _all_tokens(row: dict[str, str], stem: bool = True) -> list[str]:
    return reference.clean(reference.join_fields(*(row[key] for key in features.TEXT_KEYS)), stem=stem)


@pytest.fixture(scope="module")
def vectorizer() -> TfidfVectorizer:
    """scikit-learn on the reference's tokens, with the graph's settings."""
    analyzed = read_rows("articles.csv", limit=FIXTURE_ROWS)
    return TfidfVectorizer(
        analyzer=_ngrams, min_df=features.TFIDF_MIN_DF, sublinear_tf=features.TFIDF_SUBLINEAR_TF,
        smooth_idf=True, norm="l2",
    ).fit([_tokens(row) for row in analyzed])


def _ngrams(tokens: list[str]) -> list[str]:
    """The tokens and their runs of up to TFIDF_NGRAM_WIDTH, as scikit-learn's word n-grams
    (their separator the graph's)."""
    return [NGRAM_SEPARATOR.join(tokens[start:start + width])
            for width in range(1, features.TFIDF_NGRAM_WIDTH + 1) for start in range(len(tokens) - width + 1)]


def test_the_graphs_tfidf_is_scikit_learns_on_real_articles(tfidf_graph, vectorizer):
    transform_output = tft.TFTransformOutput(tfidf_graph.transform_output)
    rows = read_rows("articles.csv", limit=FIXTURE_ROWS + HELD_OUT)
    # Analyzed articles, long ones (which the model reads truncated), then held-out ones.
    long = [row for row in rows[20:FIXTURE_ROWS] if len(_all_tokens(row, stem=False)) > features.MAX_LENGTH]
    sample = rows[:20] + long[:LONG] + rows[FIXTURE_ROWS:]
    graph = graph_tfidf(transform_output, sample)
    expected = vectorizer.transform([_tokens(row) for row in sample])
    names = vectorizer.get_feature_names_out()
    for row, (ours, theirs) in enumerate(zip(graph, expected)):
        theirs = theirs.tocoo()
        assert set(ours) == set(names[theirs.col]), f"row {row}: the terms differ"
        np.testing.assert_allclose([ours[term] for term in names[theirs.col]], theirs.data, rtol=0, atol=1e-5)
    assert sum(map(len, graph)) > 1_000  # Real articles: many terms, bigrams among them.
    assert len(long) >= LONG
    assert any(NGRAM_SEPARATOR in term for terms in graph for term in terms)


def test_the_vocabulary_holds_the_analyzed_articles_terms_and_their_document_frequencies(tfidf_graph, vectorizer):
    lines = tft.TFTransformOutput(tfidf_graph.transform_output).vocabulary_by_name(features.TFIDF_VOCABULARY)
    frequencies = {term: int(count) for count, term in (line.decode().split(" ", 1) for line in lines)}
    assert set(frequencies) == set(vectorizer.vocabulary_)
    documents = len(read_rows("articles.csv", limit=FIXTURE_ROWS))
    # scikit-learn's idf_ is 1 + log((1 + n) / (1 + df)): the document frequency, recovered.
    expected = np.rint((1 + documents) / np.exp(vectorizer.idf_ - 1) - 1).astype(int)
    assert [frequencies[term] for term in vectorizer.get_feature_names_out()] == list(expected)


def test_an_article_without_known_terms_has_no_tfidf(tfidf_graph):
    graph = graph_tfidf(tft.TFTransformOutput(tfidf_graph.transform_output),
                         [{"title": "", "author": "", "text": ""}, {"title": "Москва", "author": "", "text": "zzqxv"}])
    assert graph == [{}, {}]

