"""The drift check (`fakenews drift`): do new articles still look like the served model's training data?

Both sides are TFDV statistics of the same per-article view (pipeline/text_statistics.py):
the reference from the ExampleGen examples the served model was trained on, found through the
run folder's ML Metadata (pipeline/lineage.py), the new side from the CSV, read through the
input checks. Each measure is a TFDV drift comparator (`infinity_norm` in the schema's
`drift_comparator`, evaluated by `tfdv.validate_statistics` against the reference as
`previous_statistics`): the L-infinity distance between the two distributions of a
categorical feature, i.e. the largest change in the share of any one value. For a yes/no
feature that is the change of its rate.

The thresholds were set on measurements (bench/bench_drift_thresholds.py, README "fakenews
drift"): against a run like the tests' session run (`fakenews run` on the first 1,000 articles
of articles.csv, 5 epochs), disjoint fresh samples of the other 5,859 articles of 200, 400 and
1,000 rows, and samples of LIAR's statements of the same sizes. The largest distance of any
fresh sample, and the smallest of any LIAR sample, were:

    measure           fresh, 200 rows   fresh, 400   fresh, 1,000   LIAR, any size   threshold
    length band           0.115            0.087        0.051          0.340            0.20
    words                 0.0065           0.0045       0.0040         0.0122           0.009
    missing title         0.016            0.008        0.003          0.996            0.10
    missing author        0.028            0.021        0.012          0.957            0.10
    "unreliable" calls    0.059            0.034        0.020          0.474            0.15

Sampling noise shrinks as 1/sqrt(rows), so a sample under MIN_ROWS articles is checked but
flagged: at that size the thresholds were not measured to hold.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Iterable, Iterator

import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import anomalies_pb2, schema_pb2, statistics_pb2

from components.input_checks import ArticleColumns, FileSummary, InputCounts, InputError, check_file, check_summaries
from components.saved_model_scorer import SavedModelScorer
from pipeline import text_statistics as view
from pipeline.input_check import find_csv_files
from pipeline.lineage import ServedModelData, served_model_data
from pipeline.run_folder import RunFolder

MIN_ROWS = 200  # The smallest fresh sample the thresholds were measured on.
TRAIN, EVAL = "train", "eval"


@dataclasses.dataclass(frozen=True)
class Measure:
    name: str
    feature: str  # Of pipeline/text_statistics.py's view.
    threshold: float  # On the L-infinity distance.
    # The reference split: the data measures compare with what the model was trained on; its
    # calls with the eval split, which it never saw (on its own training rows it is right more
    # often than on any new sample, which would read as drift).
    reference_split: str
    # The value whose share the table shows; "" for the length (its median is shown) and the
    # words (their number of distinct stems), whose most changed value the table names instead.
    shown_value: str


MEASURES = (
    Measure("document length (tokens)", view.LENGTH_BAND, 0.20, TRAIN, ""),
    Measure("cleaned words", view.WORDS, 0.009, TRAIN, ""),
    Measure("missing title", view.TITLE, 0.10, TRAIN, view.MISSING.decode()),
    Measure("missing author", view.AUTHOR, 0.10, TRAIN, view.MISSING.decode()),
    Measure('"unreliable" calls', view.CALL, 0.15, EVAL, view.UNRELIABLE.decode()),
)


@dataclasses.dataclass(frozen=True)
class Verdict:
    measure: Measure
    reference: str  # The reference side's value, as shown.
    new: str
    distance: float
    most_changed: str | None  # The value whose share changed most, when TFDV names it (drift only).

    @property
    def drifted(self) -> bool:
        return self.distance > self.measure.threshold


@dataclasses.dataclass(frozen=True)
class DriftReport:
    version: int
    model_path: str
    reference_rows: dict[str, int]  # split -> articles
    new_rows: int
    input_counts: InputCounts
    verdicts: list[Verdict]

    @property
    def drifted(self) -> bool:
        return any(verdict.drifted for verdict in self.verdicts)


def _schema(measures: Iterable[Measure]) -> schema_pb2.Schema:
    """The view's features with their drift comparators (and no other constraint to check)."""
    schema = schema_pb2.Schema()
    for measure in measures:
        feature = schema.feature.add(name=measure.feature, type=schema_pb2.BYTES)
        feature.drift_comparator.infinity_norm.threshold = measure.threshold
    return schema


def _feature(statistics: statistics_pb2.DatasetFeatureStatisticsList, name: str) -> statistics_pb2.FeatureNameStatistics:
    return next(feature for feature in statistics.datasets[0].features if feature.path.step == [name])


def _shown(statistics: statistics_pb2.DatasetFeatureStatisticsList, measure: Measure) -> str:
    if measure.feature == view.WORDS:
        return f"{_feature(statistics, view.WORDS).string_stats.unique:,} distinct"
    if not measure.shown_value:
        return f"median {_feature(statistics, view.TOKEN_COUNT).num_stats.median:.0f}"
    string_stats = _feature(statistics, measure.feature).string_stats
    total = sum(bucket.sample_count for bucket in string_stats.rank_histogram.buckets)
    share = sum(bucket.sample_count for bucket in string_stats.rank_histogram.buckets
                if bucket.label == measure.shown_value)
    return f"{share / total:.1%}" if total else "-"


_MOST_CHANGED = re.compile(r"feature value with maximum difference is: (.*)$")


def _compare(new: statistics_pb2.DatasetFeatureStatisticsList, reference: statistics_pb2.DatasetFeatureStatisticsList,
             measures: list[Measure]) -> list[Verdict]:
    anomalies: anomalies_pb2.Anomalies = tfdv.validate_statistics(new, _schema(measures), previous_statistics=reference)
    distances = {info.path.step[0]: info.drift_measurements[0].value for info in anomalies.drift_skew_info}
    verdicts = []
    for measure in measures:
        found = _MOST_CHANGED.search(anomalies.anomaly_info[measure.feature].description) \
            if measure.feature in anomalies.anomaly_info else None
        verdicts.append(Verdict(measure, _shown(reference, measure), _shown(new, measure),
                                distances[measure.feature], found.group(1).strip() if found else None))
    return verdicts


def _rows(statistics: statistics_pb2.DatasetFeatureStatisticsList) -> int:
    return int(statistics.datasets[0].num_examples)


def reference_statistics(served: ServedModelData, scorer: SavedModelScorer) -> dict[str, statistics_pb2.DatasetFeatureStatisticsList]:
    """split -> the statistics of the served model's training examples of that split."""
    return {split: view.statistics(view.example_batches(served.split_pattern(split)), scorer) for split in (TRAIN, EVAL)}


def compare(new: statistics_pb2.DatasetFeatureStatisticsList,
            references: dict[str, statistics_pb2.DatasetFeatureStatisticsList]) -> list[Verdict]:
    """Every measure of MEASURES, in that order, against its reference split."""
    by_name = {verdict.measure.name: verdict for split, reference in references.items()
               for verdict in _compare(new, reference, [m for m in MEASURES if m.reference_split == split])}
    return [by_name[measure.name] for measure in MEASURES]


def check(folder: RunFolder, model_name: str, data: str, columns: ArticleColumns = ArticleColumns()) -> DriftReport:
    """The drift of the articles in `data` (a CSV file or a folder of them, checked as the
    pipeline checks its input) from the training data of the model `folder` serves. Raises
    LineageError (pipeline/lineage.py), InputError."""
    served = served_model_data(folder, model_name)
    scorer = SavedModelScorer(served.model_path)
    summary = FileSummary()

    def checked_rows() -> Iterator[dict[str, str]]:
        for path in find_csv_files(data):
            with open(path, "rb") as file:
                yield from check_file(str(path), file, columns, False, summary)

    new = view.statistics(view.rebatched(checked_rows()), scorer)
    if summary.counts.rows_staged == 0:
        raise InputError(f"{data}: every row was skipped; nothing to check")
    check_summaries(data, columns, summary)
    references = reference_statistics(served, scorer)
    return DriftReport(version=served.version, model_path=served.model_path,
                       reference_rows={split: _rows(reference) for split, reference in references.items()},
                       new_rows=_rows(new), input_counts=summary.counts, verdicts=compare(new, references))
