"""The plain-Python reference cleaning (the notebook's loop) on hand-written strings."""

from __future__ import annotations

import nltk
from nltk.stem.porter import PorterStemmer

from preprocessing.stopwords import english_stopwords
from tests import reference
from tests.data import read_rows


def test_stopwords_load_offline_from_the_carried_list() -> None:
    reference.install_nltk_corpus()
    words = nltk.corpus.stopwords.words("english")
    assert len(words) == 198
    assert words == list(english_stopwords())
    assert {"the", "a", "is", "not", "you've", "won't"} <= set(words)


def test_punctuation_digits_and_case() -> None:
    text = "Breaking: 3 Senators VOTED, 2-1, on the U.S. budget!!!"
    # Non-letters split words ("U.S." -> "u", "s"), case folds, stopwords ("on", "the", "s")
    # go, the rest is stemmed.
    assert reference.clean(text, stem=False) == ["breaking", "senators", "voted", "u", "budget"]
    assert reference.clean(text) == ["break", "senat", "vote", "u", "budget"]
    assert reference.notebook_clean(text) == "break senat vote u budget"


def test_stopwords_removed_before_stemming() -> None:
    # "was"/"has" are stopwords; "having" is one too, but "haves" is not and stems to "have".
    assert reference.clean("It was having haves, as he has") == ["have"]
    assert reference.notebook_clean("") == ""
    assert reference.clean("123 !!! ...") == []


def test_stems_are_nltks() -> None:
    stemmer = PorterStemmer()
    words = ["generalizations", "running", "skies", "happily", "relational", "news"]
    assert reference.clean(" ".join(words)) == [stemmer.stem(word) for word in words]


def test_join_fields_treats_missing_as_empty() -> None:
    assert reference.join_fields("Title", "Author", "Body") == "Title Author Body"
    assert reference.join_fields(None, "Author", "Body") == " Author Body"
    assert reference.join_fields("Title", None, None) == "Title  "


def test_fast_loop_equals_the_notebook_loop_on_real_rows() -> None:
    for row in read_rows("articles.csv", limit=25):
        text = reference.join_fields(row["title"], row["author"], row["text"])
        assert " ".join(reference.clean(text)) == reference.notebook_clean(text)
