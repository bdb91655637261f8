"""NLTK's English stopword list, carried by the project so nothing is downloaded.

The list (198 words) is NLTK's current `stopwords/english`, byte-for-byte; see
`english_stopwords.txt` beside this module. `install_nltk_corpus` lays it out as an NLTK
data folder so `nltk.corpus.stopwords.words('english')` works offline, for the reference
cleaning and benchmarks.
"""

from __future__ import annotations

import functools
import os
import pathlib
import shutil
import tempfile

_LIST_PATH = pathlib.Path(__file__).with_name("english_stopwords.txt")


@functools.lru_cache(maxsize=None)
def english_stopwords() -> tuple[str, ...]:
    """The 198 English stopwords, in NLTK's order (alphabetical)."""
    return tuple(_LIST_PATH.read_text(encoding="utf-8").split())


def install_nltk_corpus(data_dir: str | os.PathLike | None = None) -> pathlib.Path:
    """Makes `nltk.corpus.stopwords` load the carried list, with no download.

    Writes `<data_dir>/corpora/stopwords/english` (a temporary folder by default) and puts
    `data_dir` first on `nltk.data.path`. Returns the folder.
    """
    import nltk  # Only the reference cleaning needs NLTK; the graph never does.

    root = pathlib.Path(data_dir) if data_dir else pathlib.Path(tempfile.gettempdir()) / "fakenews_nltk_data"
    corpus_dir = root / "corpora" / "stopwords"
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / "english"
    if not target.exists() or target.read_bytes() != _LIST_PATH.read_bytes():
        shutil.copyfile(_LIST_PATH, target)
    if str(root) not in nltk.data.path:
        nltk.data.path.insert(0, str(root))
    return root
