"""The in-graph cleaning and encoding, on hand-written strings."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from preprocessing import features, text
from preprocessing.stopwords import english_stopwords


def tokens_of(document: str) -> list[str]:
    return [t.decode() for t in text.tokenize(tf.constant([document]))[0].numpy()]


def test_punctuation_and_digits_removed_case_folded_stopwords_dropped():
    assert tokens_of("BREAKING: The 2 Senators' vote—was it RIGGED?!? 100%") == [
        "breaking", "senators", "vote", "rigged"]


def test_every_nltk_stopword_is_dropped_and_nothing_else():
    letters_only = [w for w in english_stopwords() if w.isalpha()]
    assert tokens_of(" ".join(letters_only).upper()) == []
    assert tokens_of("notes theirs yourselves themselves") == ["notes"]


def test_apostrophes_split_like_the_notebook():
    # re.sub('[^a-zA-Z]', ' ', …) turns "don't" into "don t"; both halves are stopwords.
    assert tokens_of("don't won't it's Obama's") == ["obama"]


def test_join_fields_keeps_field_boundaries():
    joined = text.join_fields(tf.constant(["Title"]), tf.constant([""]), tf.constant(["body"]))
    assert joined.numpy().tolist() == [b"Title  body"]


def test_hash_ids_in_range_and_padding_only_in_front():
    docs = tf.constant(["alpha beta gamma", "", "delta " * 700])
    padded = text.pad_front(text.hash_tokens(text.tokenize(docs))).numpy()
    assert padded.shape == (3, features.MAX_LENGTH)
    for row in padded:
        nonzero = np.flatnonzero(row)
        if nonzero.size:
            assert nonzero[0] + nonzero.size == features.MAX_LENGTH, "zeros only at the front"
            assert row[nonzero].min() >= 1 and row[nonzero].max() <= features.VOCAB_SIZE - 1
    assert np.count_nonzero(padded[0]) == 3
    assert not padded[1].any()
    assert np.count_nonzero(padded[2]) == features.MAX_LENGTH


@pytest.mark.parametrize("truncating, kept", [("pre", "last"), ("post", "first")])
def test_truncation_side(truncating, kept):
    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}" for i in range(600)]
    ids = text.hash_tokens(text.tokenize(tf.constant([" ".join(words)])))
    padded = text.pad_front(ids, truncating=truncating).numpy()[0]
    flat = ids.flat_values.numpy()
    expected = flat[-features.MAX_LENGTH:] if kept == "last" else flat[: features.MAX_LENGTH]
    np.testing.assert_array_equal(padded, expected)


def test_bad_truncating_side_is_refused():
    with pytest.raises(ValueError, match="truncating"):
        text.pad_front(text.hash_tokens(text.tokenize(tf.constant(["a"]))), truncating="middle")


_IDS_SCRIPT = """
import json, sys, tensorflow as tf
from preprocessing import text
ids = text.hash_tokens(text.tokenize(tf.constant(sys.argv[1:])))
print(json.dumps(ids.to_list()))
"""


def test_same_text_same_ids_in_two_processes():
    """This process and another, whose Python string hashes are salted differently."""
    docs = ["Hillary Clinton emails leaked", "Vaccines and the economy"]
    seed = "2" if os.environ.get("PYTHONHASHSEED") == "1" else "1"
    done = subprocess.run([sys.executable, "-c", _IDS_SCRIPT, *docs], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONHASHSEED": seed})
    assert json.loads(done.stdout.strip().splitlines()[-1]) == text.hash_tokens(text.tokenize(tf.constant(docs))).to_list()
