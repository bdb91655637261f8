"""NLTK's English stopword list, carried by the project so nothing is downloaded.

The list (198 words) is NLTK's current `stopwords/english`, byte-for-byte; see
`english_stopwords.txt` beside this module (the tests' reference cleaning lays it out as an
NLTK data folder, so NLTK itself reads the same list offline).
"""

from __future__ import annotations

import functools
import pathlib

LIST_PATH = pathlib.Path(__file__).with_name("english_stopwords.txt")  # The carried copy.


@functools.lru_cache(maxsize=None)
def english_stopwords() -> tuple[str, ...]:
    """The 198 English stopwords, in NLTK's order (alphabetical)."""
    return tuple(LIST_PATH.read_text(encoding="utf-8").split())
