"""A document's author as one id, in the graph: what the model's author part weighs.

The same author writes alike and is right or wrong alike: LIAR's statements come from about
3,300 speakers, many of them with several statements in both splits, and a learned weight per
speaker beside the style part takes eval accuracy there from 0.624 to 0.630 (with the
threshold rule of `decision_threshold.natural_cut`; README, "Results"). The words of the author
field are in the TF-IDF too, but there their weight shrinks with the length of the document
and is shared with every author of the same first name; the id is the author as a whole.

The id is the author field read as `text.one_spaced` leaves it, lowercased (ASCII, as the
cleaning lowercases), hashed (FarmHash, stable across processes) to 1..AUTHOR_BUCKETS-1;
an empty author is NO_AUTHOR. No analyzer: an author unseen in training gets an id whose
weight training left at zero (or at a colliding author's), and nothing is frozen that new
data could outgrow.
"""

from __future__ import annotations

import tensorflow as tf

from preprocessing import features, text

NO_AUTHOR = 0


def normalized(authors: tf.Tensor) -> tf.Tensor:
    """[batch] strings: the author as its id hashes it."""
    return tf.strings.lower(text.one_spaced(authors))


def author_id(authors: tf.Tensor) -> tf.Tensor:
    """[batch] int64 ids in 0..AUTHOR_BUCKETS-1 of [batch] author strings; '' -> NO_AUTHOR."""
    key = normalized(authors)
    hashed = tf.strings.to_hash_bucket_fast(key, features.AUTHOR_BUCKETS - 1) + 1
    return tf.where(tf.equal(key, ""), tf.constant(NO_AUTHOR, tf.int64), hashed)
