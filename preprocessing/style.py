"""A document's writing style: what the cleaning throws away, as a few numbers, in the graph.

The token ids and the TF-IDF read lowercased letters only (text.tokenize). How an article is
written is lost there: its length, capitals, exclamation and question marks, quotes, digits,
characters outside ASCII, links, long or short words, a missing title or author. Those are
known signals of unreliable news (Horne and Adali, 2017), and on articles.csv a small network
over them beside the linear model lifts eval F1 of the fake class by about 0.03 (README,
"Results"). The features, per field in `STYLE_FIELDS` order, then the author's:

    log(1 + characters), empty (0/1), share of capitals [A-Z], '!' / '?' / '"' per 100
    characters, share of digits [0-9], share of characters outside ASCII, contains "http"
    (0/1), mean length of the runs of letters [a-zA-Z]+ (0 without one); author empty (0/1).

Each field is read as `text.one_spaced` leaves it (the input checks' rewriting of quoted
newlines). Characters are Unicode code points, as Python's len()
counts them; every other class is ASCII
(RE2's classes in the graph, Python's re in the plain-Python reference, tests/reference.py),
so both read a document alike. `style` scales each feature to mean 0 and variance 1 over the
analyzed (train) split, with tf.Transform's analyzers: those numbers are frozen into the
graph, and TF Serving computes the same features from raw request strings.
"""

from __future__ import annotations

from typing import Mapping

import tensorflow as tf
import tensorflow_transform as tft

from preprocessing import text

STYLE_FIELDS = ("title", "text")
PER_FIELD = ("log_characters", "empty", "capitals", "exclamations", "questions", "quotes", "digits",
             "non_ascii", "link", "mean_word_length")
NAMES = tuple(f"{field}_{name}" for field in STYLE_FIELDS for name in PER_FIELD) + ("author_empty",)
SIZE = len(NAMES)
_PER_HUNDRED = {"exclamations": "!", "questions": "?", "quotes": '"'}
_LINK = "http"


def _characters(strings: tf.Tensor) -> tf.Tensor:
    return tf.cast(tf.strings.length(strings, unit="UTF8_CHAR"), tf.float32)


def _count(strings: tf.Tensor, characters: tf.Tensor, pattern: str) -> tf.Tensor:
    """[batch] characters matching a one-character RE2 pattern; characters: `_characters(strings)`."""
    return characters - _characters(tf.strings.regex_replace(strings, pattern, ""))


def _field_style(strings: tf.Tensor) -> list[tf.Tensor]:
    """PER_FIELD's numbers of a [batch] string tensor, each [batch] float32."""
    characters = _characters(strings)
    per_character = tf.maximum(characters, 1.0)  # An empty field has no share of anything.
    words = tf.strings.split(tf.strings.regex_replace(strings, "[^a-zA-Z]+", " "))
    word_count = tf.cast(words.row_lengths(), tf.float32)
    letters = tf.reduce_sum(_characters(words), axis=1)
    values = {
        "log_characters": tf.math.log1p(characters),
        "empty": tf.cast(characters == 0, tf.float32),
        "capitals": _count(strings, characters, "[A-Z]") / per_character,
        **{name: 100.0 * _count(strings, characters, "\\" + mark) / per_character for name, mark in _PER_HUNDRED.items()},
        "digits": _count(strings, characters, "[0-9]") / per_character,
        "non_ascii": _count(strings, characters, "[^\\x00-\\x7F]") / per_character,
        "link": tf.cast(tf.strings.regex_full_match(strings, f"(?s).*{_LINK}.*"), tf.float32),
        "mean_word_length": tf.math.divide_no_nan(letters, word_count),
    }
    return [values[name] for name in PER_FIELD]


def raw_style(fields: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """[batch, SIZE] float32 of `NAMES`, unscaled, from [batch] title/author/text strings."""
    columns = [value for field in STYLE_FIELDS for value in _field_style(text.one_spaced(fields[field]))]
    columns.append(tf.cast(tf.strings.length(text.one_spaced(fields["author"])) == 0, tf.float32))
    return tf.stack(columns, axis=1)


def style(fields: Mapping[str, tf.Tensor]) -> tf.Tensor:
    """[batch, SIZE] float32: `raw_style`, each feature scaled to mean 0, variance 1 over the
    analyzed split (a feature constant there is only centred)."""
    return tft.scale_to_z_score(raw_style(fields), elementwise=True)
