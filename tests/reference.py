"""The notebook's text cleaning in plain Python + NLTK: the parity tests' and benchmarks' oracle.

The Kaggle notebook cleans each row as

    review = re.sub('[^a-zA-Z]', ' ', text)
    review = review.lower().split()
    review = [ps.stem(word) for word in review if not word in stopwords.words('english')]
    review = ' '.join(review)

with `text = title + ' ' + author + ' ' + text` (missing values as ''). Nothing here runs in
the pipeline (it lives under tests/, outside the installed packages); the graph version is
`preprocessing/text.py` and `porter.py`. NLTK's stopword corpus is laid out from the
project's carried copy when the notebook's loop first needs it, so no download is needed.
"""

from __future__ import annotations

import functools
import math
import os
import pathlib
import re
import tempfile

import nltk
from nltk.corpus import stopwords
from nltk.stem.porter import PorterStemmer

from preprocessing.stopwords import LIST_PATH, english_stopwords



@functools.lru_cache(maxsize=1)
def install_nltk_corpus() -> pathlib.Path:
    """Makes `nltk.corpus.stopwords` load the carried list, with no download: writes it as
    `<temp>/fakenews_nltk_data/corpora/stopwords/english` and puts that data folder first on
    `nltk.data.path`. Returns the folder."""
    root = pathlib.Path(tempfile.gettempdir()) / "fakenews_nltk_data"
    target = root / "corpora" / "stopwords" / "english"
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists() or target.read_bytes() != LIST_PATH.read_bytes():
        # Copied beside it, then renamed: another process (an xdist worker, another checkout's
        # tests) may be reading the list at this moment, and must see it whole or not at all.
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=".english-", delete=False) as partial:
            partial.write(LIST_PATH.read_bytes())
        os.replace(partial.name, target)
    nltk.data.path.insert(0, str(root))
    return root


_NON_LETTERS = re.compile("[^a-zA-Z]")
_STEMMER = PorterStemmer()


@functools.lru_cache(maxsize=1)
def _stopword_set() -> frozenset[str]:
    return frozenset(english_stopwords())


def join_fields(title: str | None, author: str | None, text: str | None) -> str:
    """`title + ' ' + author + ' ' + text`, a missing value (None) counting as ''."""
    return " ".join(field or "" for field in (title, author, text))


def notebook_clean(text: str) -> str:
    """The notebook's loop verbatim, `stopwords.words('english')` re-read for every word.

    That re-read (a corpus-reader call building a 198-item list per word) is what makes the
    notebook slow; it is kept on purpose as benchmark (a).
    """
    install_nltk_corpus()
    review = re.sub("[^a-zA-Z]", " ", text)
    review = review.lower().split()
    review = [_STEMMER.stem(word) for word in review
              if not word in stopwords.words("english")]  # noqa: E713 (the notebook's code)
    return " ".join(review)


def clean(text: str, stem: bool = True) -> list[str]:
    """The same cleaning as `notebook_clean`, with the stopwords in a frozenset; a token list.

    stem=False skips the Porter stemmer (tokens are only lowercased and filtered).
    """
    stop = _stopword_set()
    tokens = [word for word in _NON_LETTERS.sub(" ", text).lower().split() if word not in stop]
    if stem:
        return [_STEMMER.stem(word) for word in tokens]
    return tokens


_LETTER_RUNS = re.compile("[a-zA-Z]+")


def style(title: str, author: str, text: str) -> list[float]:
    """preprocessing/style.py's unscaled features (its `NAMES`, in order), in plain Python."""
    def field(value: str) -> list[float]:
        value = " ".join(value.split())
        characters = len(value)
        per_character = max(characters, 1)
        count = lambda pattern: len(re.findall(pattern, value))  # noqa: E731
        words = _LETTER_RUNS.findall(value)
        return [math.log1p(characters), float(characters == 0), count("[A-Z]") / per_character,
                100 * value.count("!") / per_character, 100 * value.count("?") / per_character,
                100 * value.count('"') / per_character, count("[0-9]") / per_character,
                count("[^\x00-\x7f]") / per_character, float("http" in value),
                sum(map(len, words)) / len(words) if words else 0.0]
    return field(title) + field(text) + [float(not author.split())]
