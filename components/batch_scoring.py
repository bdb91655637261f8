"""Batch scoring on Beam (`fakenews score`): checked articles through the served model, as CSV shards.

    input files -> ReadCheckedRows (components/checked_rows.py: the input checks, streamed,
                   a file per worker)
                -> BatchElements -> ScoreBatches (serving_default, components/saved_model_scorer.py)
                -> `id,probability,label` lines -> <output>/scores-SSSSS-of-NNNNN.csv
    the files' summaries, judged as the ExampleGen judges them, and the scores' tally
                -> <output>/summary.json

Module code: the DoFns run in Beam's workers (in process on the DirectRunner; on Dataflow, or a
Flink or Spark worker pool, the pipeline image), which import this module from the installed
package. A worker process loads the model once: `ScoreBatches` acquires it through
`apache_beam.utils.shared.Shared`, so its DoFn instances (one per worker thread) share one copy
instead of each holding its own. Shards hold rows in no particular order; the id says which is
which (the input's, not the checks' text form: input_checks.input_id).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import posixpath
from typing import Any, Iterator

import apache_beam as beam
from apache_beam.utils import shared

from components import checked_rows, input_checks
from components.saved_model_scorer import SavedModelScorer
from preprocessing import features

OUTPUT_COLUMNS = ("id", "probability", "label")
SHARD_PREFIX = "scores"
SHARD_SUFFIX = ".csv"
SUMMARY_FILE = "summary.json"
# Articles a call of the signature: at most the served max_batch_size (64,
# serving/tfserving/batching_parameters.txt), so a call is one TF Serving could answer; larger
# batches were no faster (all 6,859 articles in process: 39 s in batches of 64, 44 s of 256).
# BatchElements picks sizes within these bounds by how long batches take.
MIN_BATCH, MAX_BATCH = 16, 64
PROGRESS_EVERY = 5_000  # Articles between two progress lines of one worker.

_log = logging.getLogger(__name__)


class ScoreBatches(beam.DoFn):
    """A batch of checked rows -> (input id, probability, label) per row."""

    def __init__(self, model_path: str) -> None:
        self._model_path = model_path
        self._shared = shared.Shared()
        self._scored = beam.metrics.Metrics.counter("fakenews_score", "articles_scored")
        self._unreliable = beam.metrics.Metrics.counter("fakenews_score", "articles_unreliable")

    def setup(self) -> None:
        path = self._model_path
        self._model: SavedModelScorer = self._shared.acquire(lambda: SavedModelScorer(path), tag=path)
        self._done = 0

    def process(self, rows: list[dict[str, str]]) -> Iterator[tuple[str, float, int]]:
        title, author, text = ([row[key] for row in rows] for key in features.TEXT_KEYS)
        scores = self._model.score(title, author, text)
        for row, probability, label in zip(rows, scores.probability, scores.label):
            yield input_checks.input_id(row[features.ID_KEY]), float(probability), int(label)
        self._scored.inc(len(rows))
        self._unreliable.inc(int(scores.label.sum()))
        before, self._done = self._done, self._done + len(rows)
        if before // PROGRESS_EVERY != self._done // PROGRESS_EVERY:
            _log.info("scored %s articles (this worker)", f"{self._done:,}")


def csv_line(row: tuple[str, float, int]) -> str:
    """One output row; 9 significant digits hold a float32 probability exactly."""
    row_id, probability, label = row
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([row_id, f"{probability:.9g}", label])
    return buffer.getvalue()


class _Tally(beam.CombineFn):
    """(articles scored, of them labelled unreliable)."""

    def create_accumulator(self) -> tuple[int, int]:
        return 0, 0

    def add_input(self, accumulator: tuple[int, int], row: tuple[str, float, int]) -> tuple[int, int]:
        return accumulator[0] + 1, accumulator[1] + row[2]

    def merge_accumulators(self, accumulators) -> tuple[int, int]:
        scored, unreliable = zip(*accumulators)
        return sum(scored), sum(unreliable)

    def extract_output(self, accumulator: tuple[int, int]) -> tuple[int, int]:
        return accumulator


def _judge(summary: input_checks.FileSummary, data: str, columns: input_checks.ColumnNames) -> dict[str, Any]:
    """The checks across files, as the ExampleGen runs them (raises InputError); the counts."""
    if summary.counts.rows_staged == 0:
        raise input_checks.InputError(f"{data}: every row was skipped; nothing to score")
    input_checks.check_summaries(data, columns, summary)
    return json.loads(summary.counts.counts_json())


def _summary(counts: dict[str, Any], tally: tuple[int, int], model: dict[str, Any]) -> str:
    scored, unreliable = tally
    return json.dumps({"model": model, "input_counts": counts, "scored": scored, "unreliable": unreliable},
                      indent=2, sort_keys=True)


def _write(text: str, path: str) -> None:
    with beam.io.filesystems.FileSystems.create(path) as file:
        file.write(text.encode("utf-8"))


@beam.ptransform_fn
def ScoreArticles(pipeline: beam.Pipeline, files: list[str], data: str, columns: input_checks.ColumnNames,  # noqa: N802 (Beam's style)
                  model: dict[str, Any], output: str):
    """Scores the articles of `files` (the input `data`: a CSV file or folder) with the model
    model["path"]; writes the shards and SUMMARY_FILE under `output`. `model` is recorded
    in the summary as given."""
    checked = pipeline | "Read" >> checked_rows.ReadCheckedRows(files, columns, drop_invalid=False)
    scored = (
        checked[checked_rows.ROWS]
        | "Batch" >> beam.BatchElements(min_batch_size=MIN_BATCH, max_batch_size=MAX_BATCH)
        | "Score" >> beam.ParDo(ScoreBatches(model["path"]))
    )
    _ = (
        scored
        | "ToCsv" >> beam.Map(csv_line)
        | "WriteShards" >> beam.io.WriteToText(posixpath.join(output, SHARD_PREFIX), file_name_suffix=SHARD_SUFFIX,
                                               header=",".join(OUTPUT_COLUMNS))
    )
    tally = scored | "Tally" >> beam.CombineGlobally(_Tally())
    return (
        checked[checked_rows.SUMMARIES]
        | "Merge" >> beam.CombineGlobally(checked_rows.MergeSummaries())
        | "Judge" >> beam.Map(_judge, data, columns)
        | "Summarise" >> beam.Map(_summary, beam.pvalue.AsSingleton(tally), model)
        | "WriteSummary" >> beam.Map(_write, posixpath.join(output, SUMMARY_FILE))
    )
