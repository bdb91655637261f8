"""TFDV statistics of what matters for text, the drift check's view of a set of articles.

Per article, computed in TensorFlow with the model's own cleaning (preprocessing/text.py and
porter.py, as the Transform graph runs them; no NLTK):

- `token_count` and `length_band`: the cleaned words of title + author + text (stopwords
  dropped, before the model's cut to 500), as a number and as a band of LENGTH_BANDS;
- `words`: those words, stemmed: the tokens the model hashes;
- `title`, `author`: "present" or "missing" (empty after stripping);
- `call`: the served model's label, "unreliable" or "reliable" (serving_default).

Batches of articles go through TFDV's in-memory statistics generators (the combiners its Beam
StatisticsGen runs) one Arrow RecordBatch at a time, so memory holds a batch and the
generators' state (a count per distinct word), not the data.
"""

from __future__ import annotations

import bisect
from typing import Iterable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import statistics_pb2

from components.saved_model_scorer import SavedModelScorer
from preprocessing import features, porter, text

TOKEN_COUNT, LENGTH_BAND, WORDS, TITLE, AUTHOR, CALL = "token_count", "length_band", "words", "title", "author", "call"
PRESENT, MISSING = b"present", b"missing"
UNRELIABLE, RELIABLE = b"unreliable", b"reliable"
# Upper bounds of the length bands, in cleaned words: about doubling, so that a short-text
# source (claims of a sentence or two) and a long-form one fall in different bands; the last
# bounded band ends at the model's cut (features.MAX_LENGTH).
LENGTH_BANDS = (0, 10, 20, 50, 100, 200, features.MAX_LENGTH)
BATCH_SIZE = 256  # Articles per batch: the cleaning's and the model's, and one RecordBatch.

Batch = tuple[Sequence[str], Sequence[str], Sequence[str]]  # titles, authors, texts


def band_name(count: int) -> bytes:
    """The LENGTH_BANDS band of a document of `count` cleaned words: "0", "1-10", ..., "501+"."""
    index = bisect.bisect_left(LENGTH_BANDS, count)
    if index == len(LENGTH_BANDS):
        return f"{LENGTH_BANDS[-1] + 1}+".encode()
    if index == 0:
        return b"0"
    return f"{LENGTH_BANDS[index - 1] + 1}-{LENGTH_BANDS[index]}".encode()


# No AutoGraph: the cleaning is TF ops only, and converting it costs trace time (components/keras_autograph.py).
@tf.function(input_signature=[tf.TensorSpec([None], tf.string)] * 3, autograph=False)
def _clean(titles: tf.Tensor, authors: tf.Tensor, texts: tf.Tensor) -> tuple[tf.Tensor, ...]:
    """(row splits, stemmed words, title present, author present) of a batch."""
    tokens = text.tokenize(text.join_fields(titles, authors, texts))
    stems = porter.stem(tokens.flat_values)
    present = [tf.strings.length(tf.strings.strip(field)) > 0 for field in (titles, authors)]
    return tokens.row_splits, stems, *present


def _one_each(values: Sequence | np.ndarray, value_type: pa.DataType) -> pa.ListArray:
    """One value per row, as the list arrays TFDV reads."""
    return pa.ListArray.from_arrays(np.arange(len(values) + 1, dtype=np.int32), pa.array(values, value_type))


def article_view(batch: Batch, scorer: SavedModelScorer) -> pa.RecordBatch:
    """The batch's articles as the features above, one row each."""
    titles, authors, texts = (tf.constant(list(column), tf.string) for column in batch)
    splits, stems, title_present, author_present = (tensor.numpy() for tensor in _clean(titles, authors, texts))
    counts = np.diff(splits)
    calls = scorer.score(*batch).label
    columns = {
        TOKEN_COUNT: _one_each(counts.astype(np.int64), pa.int64()),
        LENGTH_BAND: _one_each([band_name(count) for count in counts], pa.binary()),
        WORDS: pa.ListArray.from_arrays(splits.astype(np.int32), pa.array(stems, pa.binary())),
        TITLE: _one_each(np.where(title_present, PRESENT, MISSING), pa.binary()),
        AUTHOR: _one_each(np.where(author_present, PRESENT, MISSING), pa.binary()),
        CALL: _one_each(np.where(calls == 1, UNRELIABLE, RELIABLE), pa.binary()),
    }
    return pa.RecordBatch.from_arrays(list(columns.values()), list(columns))


def statistics(batches: Iterable[Batch], scorer: SavedModelScorer) -> statistics_pb2.DatasetFeatureStatisticsList:
    """TFDV statistics of the articles' view, streamed batch by batch."""
    generators = stats_impl.get_generators(tfdv.StatsOptions(), in_memory=True)
    accumulators = [generator.create_accumulator() for generator in generators]
    for batch in batches:
        view = article_view(batch, scorer)
        accumulators = [generator.add_input(accumulator, view) for generator, accumulator in zip(generators, accumulators)]
    return stats_impl.extract_statistics_output(accumulators, generators)


def rebatched(rows: Iterable[dict[str, str]], size: int = BATCH_SIZE) -> Iterator[Batch]:
    """Checked rows (dicts by canonical column) in batches of `size`."""
    batch: list[dict[str, str]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield _columns(batch)
            batch = []
    if batch:
        yield _columns(batch)


def _columns(rows: list[dict[str, str]]) -> Batch:
    return tuple([row[key] for row in rows] for key in features.TEXT_KEYS)  # type: ignore[return-value]


def example_batches(file_pattern: str, size: int = BATCH_SIZE) -> Iterator[Batch]:
    """The title, author and text of the ExampleGen's gzipped tf.Example files, in batches
    ('' where a value is missing, as the examples leave it)."""
    spec = {key: tf.io.VarLenFeature(tf.string) for key in features.TEXT_KEYS}
    files = tf.io.gfile.glob(file_pattern)
    for serialized in tf.data.TFRecordDataset(files, compression_type="GZIP").batch(size):
        parsed = tf.io.parse_example(serialized, spec)
        # One value a feature at most: [batch, 1] with '' for none.
        dense = [tf.sparse.to_dense(tf.sparse.reset_shape(parsed[key], [tf.shape(serialized)[0], 1]), default_value="")
                 for key in features.TEXT_KEYS]
        yield tuple([value.decode("utf-8") for value in column[:, 0].numpy()] for column in dense)  # type: ignore[misc]
