"""TF-IDF weights of a document's stemmed words, with the IDF frozen into the Transform graph.

The same numbers as scikit-learn's `TfidfVectorizer(smooth_idf=True, norm="l2")` fitted on
the analyzed split (Transform analyzes the train split only, pipeline/pipeline.py), over the
same terms, with `sublinear_tf` and `min_df` as `features.TFIDF_SUBLINEAR_TF` and
`features.TFIDF_MIN_DF`; a parity test checks it on real articles.

The terms are those of the words the model reads: the document's stems truncated to
MAX_LENGTH as its token ids are (`text.truncate`, the same side; preprocessing/transform.py),
in analysis and at serving alike. So the LSTM and the linear model read the same words, and
`spread_over_words` can hand each of them its part of a term's value (the `explain`
signature's words, components/signatures.py).

One pass of analysis: a vocabulary (`tft.vocabulary`) of each document's *distinct* terms,
so that the frequency it stores with each term is the term's document frequency, and
`frequency_threshold` is min_df; and the document count (`tft.size`). A second analyzer
depending on the vocabulary (document frequencies by id) would cost a second pass over the
data, which re-runs the whole cleaning and stemming. At serving the vocabulary file is two
lookup tables (term -> id, id -> document frequency): no Python.

A term the vocabulary does not hold (new in a request, or too rare) is dropped, as scikit-learn
drops it.
"""

from __future__ import annotations

import contextlib

import tensorflow as tf
import tensorflow_transform as tft

from preprocessing import features

# Joins the words of a pair. Not a space: the vocabulary file's lines are "<frequency> <term>",
# read by splitting at spaces.
NGRAM_SEPARATOR = "_"


def terms(stems: tf.RaggedTensor, ngram_width: int = features.TFIDF_NGRAM_WIDTH) -> tf.RaggedTensor:
    """The words, and for ngram_width > 1 also their runs of up to that many, joined by NGRAM_SEPARATOR."""
    if ngram_width == 1:
        return stems
    return tf.strings.ngrams(stems, ngram_width=list(range(1, ngram_width + 1)), separator=NGRAM_SEPARATOR)


def _distinct_per_document(terms: tf.RaggedTensor) -> tf.Tensor:
    """[distinct (document, term) pairs] terms: each document's terms once each."""
    keyed = tf.strings.join([tf.strings.as_string(terms.value_rowids()), terms.flat_values], separator=" ")
    distinct, _ = tf.unique(keyed)
    return tf.strings.regex_replace(distinct, "^[0-9]+ ", "")


def _table(vocabulary_file: tf.Tensor | str, key_index: int, value_index: int,
           key_dtype: tf.DType) -> tf.lookup.StaticHashTable:
    """A lookup table over the "<frequency> <term>" vocabulary file; -1 for a missing key."""
    return tf.lookup.StaticHashTable(
        tf.lookup.TextFileInitializer(vocabulary_file, key_dtype, key_index, tf.int64, value_index, delimiter=" "),
        default_value=-1)


def term_table(vocabulary_file: str) -> tf.lookup.StaticHashTable:
    """term -> vocabulary id (-1 if not held), from the Transform output's vocabulary file
    (`TFTransformOutput.vocabulary_file_by_name(features.TFIDF_VOCABULARY)`): the ids `tfidf` gives."""
    return _table(vocabulary_file, 1, tf.lookup.TextFileIndex.LINE_NUMBER, tf.string)


def _lookup(key_index: int, value_index: int, key_dtype: tf.DType):
    """A tft `lookup_fn` over the vocabulary file."""
    def lookup(keys: tf.Tensor, vocabulary_file: tf.Tensor | str) -> tuple[tf.Tensor, tf.Tensor]:
        # Once the file is known (the traced graph that is saved), the table is made in the
        # init scope, as tft's own lookups are: else every call of the saved function (every
        # request) would read the file again.
        known = isinstance(vocabulary_file, str) or not tf.is_symbolic_tensor(vocabulary_file)
        with contextlib.ExitStack() as scope:
            if tf.inside_function() and known:
                scope.enter_context(tf.init_scope())
            table = _table(vocabulary_file, key_index, value_index, key_dtype)
        return table.lookup(keys), table.size()
    return lookup


_TERM_TO_ID = _lookup(1, tf.lookup.TextFileIndex.LINE_NUMBER, tf.string)
_ID_TO_DOCUMENT_FREQUENCY = _lookup(tf.lookup.TextFileIndex.LINE_NUMBER, 0, tf.int64)


def tfidf(terms: tf.RaggedTensor, min_df: int = features.TFIDF_MIN_DF,
          sublinear_tf: bool = features.TFIDF_SUBLINEAR_TF) -> tuple[tf.SparseTensor, tf.SparseTensor]:
    """[batch, (terms)] strings -> (vocabulary ids, weights): two [batch, (distinct terms)]
    SparseTensors over the same indices, each row's ids ascending, its weights of L2 norm 1
    (an empty row when no term is known)."""
    vocabulary = tft.vocabulary(_distinct_per_document(terms), top_k=features.TFIDF_VOCABULARY_LIMIT,
                                frequency_threshold=min_df, store_frequency=True,
                                vocab_filename=features.TFIDF_VOCABULARY)
    documents = tf.cast(tft.size(terms.row_lengths()), tf.float64)
    ids = terms.with_flat_values(
        tft.apply_vocabulary(terms.flat_values, vocabulary, lookup_fn=_TERM_TO_ID))
    known = tf.ragged.boolean_mask(ids, ids >= 0)
    # [batch, vocabulary]: how often each term occurs in each document, row by row, ids ascending.
    counts = tf.sparse.reorder(tf.sparse.bincount(known, axis=-1))
    rows, term_ids = counts.indices[:, 0], counts.indices[:, 1]
    document_frequency = tf.cast(
        tft.apply_vocabulary(term_ids, vocabulary, lookup_fn=_ID_TO_DOCUMENT_FREQUENCY), tf.float64)
    # scikit-learn's smooth IDF: as if one more document held every term.
    idf = tf.math.log((1 + documents) / (1 + document_frequency)) + 1
    count = tf.cast(counts.values, tf.float64)
    weights = (1 + tf.math.log(count) if sublinear_tf else count) * idf
    batch = known.nrows()
    norms = tf.sqrt(tf.math.unsorted_segment_sum(tf.square(weights), rows, batch))
    weights = weights / tf.gather(norms, rows)  # A row with a term has a weight > 0, so a norm > 0.

    def per_document(values: tf.Tensor) -> tf.SparseTensor:
        # Unvalidated (rows ascend, from the reordered counts): validation adds Assert ops, which a
        # tf.function runs even when their result is not fetched, so tf.Transform's analysis
        # (before the vocabulary exists) would evaluate the lookups on a placeholder.
        return tf.RaggedTensor.from_value_rowids(values, rows, nrows=batch, validate=False).to_sparse()

    return per_document(term_ids), per_document(tf.cast(weights, tf.float32))


def spread_over_words(stems: tf.RaggedTensor, ids: tf.SparseTensor, values: tf.SparseTensor,
                      term_ids: tf.lookup.StaticHashTable,
                      ngram_width: int = features.TFIDF_NGRAM_WIDTH) -> tf.RaggedTensor:
    """[batch, (words)] float32: each word's part of a value per term of its document.

    stems: the words the TF-IDF read (truncated), [batch, (words)]. ids, values: [batch,
    (distinct terms)] SparseTensors over the same indices, as `tfidf` returns them (values: a
    term's TF-IDF weight, or a linear model's weight x it). A term's value is split evenly over
    its occurrences in the document, and an occurrence's evenly over the words it covers (a
    pair covers two), so a row's parts add up to the sum of its terms' values. term_ids: the
    `term_table` the ids come from.
    """
    size = tf.cast(term_ids.size(), tf.int64)
    # (document, term) keys: the rows ascend, and the ids ascend within a row, so the keys do;
    # one key beyond all others keeps the search's answer an index even for an empty batch.
    keys = tf.concat([ids.indices[:, 0] * size + ids.values, [tf.int64.max]], axis=0)
    keyed_values = tf.concat([values.values, [0.0]], axis=0)
    first_words, occurrence_keys, widths = [], [], []
    for width in range(1, ngram_width + 1):
        grams = stems if width == 1 else tf.strings.ngrams(stems, width, separator=NGRAM_SEPARATOR)
        term = term_ids.lookup(grams.flat_values)
        rows = grams.value_rowids()
        # Occurrence j of a row starts at the row's word j.
        first = tf.gather(stems.row_starts(), rows) + tf.range(tf.size(term, tf.int64)) - tf.gather(
            grams.row_starts(), rows)
        known = term >= 0
        first_words.append(tf.boolean_mask(first, known))
        occurrence_keys.append(tf.boolean_mask(rows * size + term, known))
        widths.append(tf.fill(tf.shape(first_words[-1]), width))
    occurrence_keys = tf.concat(occurrence_keys, axis=0)
    _, which, occurrences = tf.unique_with_counts(occurrence_keys)
    at = tf.searchsorted(keys, occurrence_keys)
    value = tf.where(tf.gather(keys, at) == occurrence_keys, tf.gather(keyed_values, at), 0.0)
    width = tf.concat(widths, axis=0)
    per_word = value / tf.cast(tf.gather(occurrences, which) * width, tf.float32)
    first = tf.concat(first_words, axis=0)
    words, parts = [], []
    for offset in range(ngram_width):
        covers = offset < width
        words.append(tf.boolean_mask(first + offset, covers))
        parts.append(tf.boolean_mask(per_word, covers))
    return stems.with_flat_values(tf.math.unsorted_segment_sum(
        tf.concat(parts, axis=0), tf.concat(words, axis=0), tf.shape(stems.flat_values, tf.int64)[0]))
