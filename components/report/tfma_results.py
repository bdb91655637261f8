"""Reads the Evaluator's output: TFMA metrics, plots and validation, per slice, per model.

The records are read as protos (`tfma.load_metrics` / `load_plots`) rather than through
`load_eval_result`'s JSON view, which turns NaN into the string "NaN" and omits zero counts.
Model names are "" when the Evaluator had no baseline, else "candidate" and "baseline".
"""

from __future__ import annotations

import dataclasses
import math
from typing import Mapping

import tensorflow_model_analysis as tfma
from tensorflow_model_analysis.proto import metrics_for_slice_pb2

from components.report.layout import OVERALL_SLICE
from components.report.metrics import Confusion, CurvePoint
from components.signature_names import PREDICTED_LABEL, PROBABILITY

_CONFUSION_METRIC = "confusion_matrix_at_thresholds"  # ConfusionMatrixAtThresholds' name.
# Metrics that rank unreliable articles above reliable ones (components/evaluation.py): on a
# slice whose articles all carry one label they are undefined, and TFMA writes 0.0 for them.
RANKING_METRICS = ("auc", "auc_precision_recall")


def slice_name(slice_key: tuple) -> str:
    """A TFMA slice key as the report names it: OVERALL_SLICE, or "feature=value, ..."."""
    return OVERALL_SLICE if not slice_key else ", ".join(f"{k}={v}" for k, v in slice_key)




@dataclasses.dataclass(frozen=True)
class SliceResult:
    key: tuple  # TFMA's slice key: () for the overall slice.
    candidate: Mapping[str, float]  # Metric name -> value; names are unique across outputs.
    baseline: Mapping[str, float]  # Empty without a baseline.
    change: Mapping[str, float]  # candidate - baseline (TFMA's diff metrics); empty without one.
    confusion: Confusion  # The served decision's (the `label` output).
    curve: tuple[CurvePoint, ...]  # The probability's, at the ConfusionMatrixPlot thresholds.


@dataclasses.dataclass(frozen=True)
class Evaluation:
    slices: dict[str, SliceResult]  # By slice name, the overall slice first.
    config: tfma.EvalConfig  # As the Evaluator applied it (no change thresholds without a baseline).
    validation: tfma.ValidationResult


def _counts(matrix: metrics_for_slice_pb2.ConfusionMatrixAtThresholds.ConfusionMatrix) -> Confusion:
    # Unweighted examples: the counts are whole numbers held in doubles.
    return Confusion(tp=round(matrix.true_positives), fp=round(matrix.false_positives),
                     tn=round(matrix.true_negatives), fn=round(matrix.false_negatives))


def _double(value: metrics_for_slice_pb2.MetricValue) -> float:
    return value.double_value.value if value.HasField("double_value") else math.nan


def _put(table: dict[str, float], name: str, value: float) -> None:
    if name in table:
        raise ValueError(f"metric {name!r} appears in two outputs; the report keys metrics by name")
    table[name] = value


def read(evaluation_uri: str) -> Evaluation:
    metrics = list(tfma.load_metrics(evaluation_uri))
    has_baseline = any(kv.key.model_name == tfma.BASELINE_KEY for m in metrics for kv in m.metric_keys_and_values)
    candidate_name = tfma.CANDIDATE_KEY if has_baseline else ""

    curves: dict[tuple, tuple[CurvePoint, ...]] = {}
    for plots in tfma.load_plots(evaluation_uri):
        for kv in plots.plot_keys_and_values:
            if (kv.key.model_name, kv.key.output_name) == (candidate_name, PROBABILITY) and kv.value.HasField(
                    "confusion_matrix_at_thresholds"):
                curves[tfma.slicer.deserialize_slice_key(plots.slice_key)] = tuple(
                    CurvePoint(m.threshold, _counts(m)) for m in kv.value.confusion_matrix_at_thresholds.matrices)

    slices = {}
    for per_slice in metrics:
        key = tfma.slicer.deserialize_slice_key(per_slice.slice_key)
        candidate: dict[str, float] = {}
        baseline: dict[str, float] = {}
        change: dict[str, float] = {}
        confusion = None
        for kv in per_slice.metric_keys_and_values:
            name, model = kv.key.name, kv.key.model_name
            if name == _CONFUSION_METRIC:
                if (model, kv.key.output_name, kv.key.is_diff) == (candidate_name, PREDICTED_LABEL, False):
                    confusion = _counts(kv.value.confusion_matrix_at_thresholds.matrices[0])
            elif kv.key.is_diff:
                _put(change, name, _double(kv.value))
            else:
                _put(baseline if model == tfma.BASELINE_KEY else candidate, name, _double(kv.value))
        if confusion is None or key not in curves:
            raise ValueError(f"{evaluation_uri}, slice {slice_name(key)}: the report needs {_CONFUSION_METRIC} "
                             f"on output {PREDICTED_LABEL!r} and ConfusionMatrixPlot on {PROBABILITY!r}")
        if not confusion.has_both_classes:
            for table in (candidate, baseline, change):
                table.update({name: math.nan for name in RANKING_METRICS if name in table})
        slices[key] = SliceResult(key, candidate, baseline, change, confusion, curves[key])

    return Evaluation(
        # Overall first, then the slices by feature value.
        slices={slice_name(key): slices[key] for key in sorted(slices, key=lambda k: (len(k), k))},
        config=tfma.load_eval_result(evaluation_uri, model_name=candidate_name).config,
        validation=tfma.load_validation_result(evaluation_uri),
    )
