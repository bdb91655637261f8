"""The notebook's cleaning, encoding and padding as TensorFlow ops, batched.

Notebook (per row, in Python):   re.sub('[^a-zA-Z]', ' ', s).lower().split()
                                 -> drop stopwords -> PorterStemmer().stem -> one_hot(…, 10000)
                                 -> pad_sequences(maxlen=500, padding='pre')
Here (per batch, in the graph):  tokenize -> porter.stem -> hash_tokens -> pad_front

Stemming lives in `porter.py`; `transform.py` composes the steps. Every function takes and
returns tensors, so the same code runs in tf.Transform (training) and in the exported
serving signature (TF Serving) with no Python at request time.
"""

from __future__ import annotations

import re

import tensorflow as tf

from preprocessing import features
from preprocessing.stopwords import english_stopwords

# One anchored alternation instead of a lookup table: RE2 compiles it to a DFA, and it needs
# no table initialisation in the Transform graph. Stopwords with apostrophes ("you've") can
# never match a letters-only token; they are kept so the list stays NLTK's, unedited.
_STOPWORD_PATTERN = "|".join(re.escape(word) for word in english_stopwords())
# What Python's str.split() splits at: Unicode's white space and the four ASCII separators.
_WHITESPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]+"


def one_spaced(strings: tf.Tensor) -> tf.Tensor:
    """Python's `" ".join(value.split())`, per string: whitespace runs as single spaces, none at
    either end.

    The input checks join a field's quoted newlines so (components/input_checks.py); a feature
    that reads a field's raw characters reads it through this, so that the same article sent
    raw to TF Serving gets the same value as its training row.
    """
    spaced = tf.strings.regex_replace(strings, _WHITESPACE, " ")
    return tf.strings.regex_replace(spaced, "^ | $", "")


def join_fields(*fields: tf.Tensor) -> tf.Tensor:
    """`title + ' ' + author + ' ' + text` per row; each field a [batch] string tensor."""
    return tf.strings.reduce_join(tf.stack(fields, axis=1), axis=1, separator=" ")


def tokenize(documents: tf.Tensor) -> tf.RaggedTensor:
    """Letters only, lowercase, whitespace split, NLTK English stopwords dropped.

    documents: [batch] string. Returns [batch, (tokens)] string.
    """
    letters = tf.strings.regex_replace(documents, features.NOT_A_LETTER, " ")
    tokens = tf.strings.split(tf.strings.lower(letters))
    is_stopword = tf.strings.regex_full_match(tokens.flat_values, _STOPWORD_PATTERN)
    return tf.ragged.boolean_mask(tokens, tokens.with_flat_values(tf.logical_not(is_stopword)))


def hash_tokens(tokens: tf.RaggedTensor, vocab_size: int = features.VOCAB_SIZE) -> tf.RaggedTensor:
    """Deterministic ids in 1..vocab_size-1 (FarmHash); id 0 stays free for padding.

    Like Keras' `one_hot` (a hash modulo the vocabulary) but stable across processes and
    platforms, which Python's salted `hash` is not.
    """
    ids = tf.strings.to_hash_bucket_fast(tokens.flat_values, vocab_size - 1) + 1
    return tokens.with_flat_values(ids)


def truncate(tokens: tf.RaggedTensor, max_length: int = features.MAX_LENGTH,
             truncating: str = "pre") -> tf.RaggedTensor:
    """At most max_length tokens a row: "pre" keeps the last ones (Keras' default, which the
    notebook uses), "post" the first ones."""
    if truncating not in features.TRUNCATE_SIDES:
        raise ValueError(f"truncating must be one of {features.TRUNCATE_SIDES}, got {truncating!r}")
    return tokens[:, -max_length:] if truncating == "pre" else tokens[:, :max_length]


def words_read(documents: tf.Tensor, max_length: int = features.MAX_LENGTH,
               truncating: str = "pre") -> tf.RaggedTensor:
    """The words the model reads of each document, before stemming: [batch, (words)] string.

    Word t is the one whose id the model reads at the t-th of the row's non-padding columns
    (`tokenize`, then the truncation `pad_front` applies), so a word's attribution can be
    named by it.
    """
    return truncate(tokenize(documents), max_length, truncating)


def pad_front(
    ids: tf.RaggedTensor,
    max_length: int = features.MAX_LENGTH,
    truncating: str = "pre",
) -> tf.Tensor:
    """Dense [batch, max_length] int64 with PAD_ID in front, like Keras' `pad_sequences`,
    a longer document cut by `truncate`."""
    kept = truncate(ids, max_length, truncating)
    lengths = kept.row_lengths()
    # Pad at the end, then reverse each row's tokens and the whole row: tokens end up at the
    # back in their original order, with the padding in front.
    back_padded = kept.to_tensor(default_value=features.PAD_ID, shape=[None, max_length])
    reversed_tokens = tf.reverse_sequence(back_padded, lengths, seq_axis=1, batch_axis=0)
    return tf.reverse(reversed_tokens, axis=[1])


def document_lengths(token_ids: tf.Tensor) -> tf.Tensor:
    """Tokens per pre-padded row: ids are >= 1, padding is PAD_ID (0)."""
    return tf.math.count_nonzero(token_ids, axis=-1, dtype=tf.int32)


def trim_padding(token_ids: tf.Tensor) -> tf.Tensor:
    """Drops the leading columns that are padding in every row (keeps at least one).

    For a model that masks padding this changes no prediction, and it spares the LSTM the
    steps: a batch is only as long as its longest document.
    """
    longest = tf.maximum(tf.reduce_max(document_lengths(token_ids)), 1)
    return token_ids[:, tf.shape(token_ids)[1] - longest:]


def unpad_front(values: tf.Tensor, token_ids: tf.Tensor) -> tf.RaggedTensor:
    """The inverse of `pad_front`'s layout: [batch, (words)], row r holding `values[r]` at the
    columns where `token_ids[r]` is not padding (its last document_lengths columns), in order.

    values: [batch, time], one value per column of token_ids (e.g. each word's attribution).
    """
    lengths = document_lengths(token_ids)
    time = tf.shape(token_ids)[1]
    columns = tf.ragged.range(time - lengths, time)
    rows = tf.cast(columns.value_rowids(), tf.int32)
    return columns.with_flat_values(tf.gather(tf.reshape(values, [-1]), rows * time + columns.flat_values))
