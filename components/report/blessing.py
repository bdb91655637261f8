"""Why a model was (not) blessed: every threshold TFMA checked, on every slice, with its outcome.

TFMA's validation result lists failures only. The thresholds that were applied come from the
eval config stored with the evaluation (the Evaluator drops change thresholds when it has no
baseline), and pass or fail is TFMA's verdict, never recomputed here.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping

import tensorflow_model_analysis as tfma

from components.report.tfma_results import SliceResult, slice_name

# (slice name, metric name, is_diff): one threshold check that TFMA reported as failed.
FailureKey = tuple[str, str, bool]


@dataclasses.dataclass(frozen=True)
class GateCheck:
    slice: str
    metric: str
    rule: str  # e.g. "auc >= 0.6", "auc change >= -1e-10"
    is_change: bool  # A change threshold: candidate against the baseline.
    candidate: float | None  # None: TFMA did not compute it (a failure in itself).
    baseline: float | None  # Change thresholds only.
    change: float | None  # Change thresholds only: candidate - baseline, as TFMA computed it.
    passed: bool


def _bounds(metric: str, threshold: tfma.GenericValueThreshold) -> str:
    rules = []
    if threshold.HasField("lower_bound"):
        rules.append(f"{metric} >= {threshold.lower_bound.value:g}")
    if threshold.HasField("upper_bound"):
        rules.append(f"{metric} <= {threshold.upper_bound.value:g}")
    return " and ".join(rules)


def _change_rule(metric: str, threshold: tfma.GenericChangeThreshold) -> str:
    sign = "<=" if threshold.direction == tfma.MetricDirection.LOWER_IS_BETTER else ">="
    rules = []
    if threshold.HasField("absolute"):
        rules.append(f"{metric} change {sign} {threshold.absolute.value:g}")
    if threshold.HasField("relative"):
        rules.append(f"{metric} relative change {sign} {threshold.relative.value:g}")
    return " and ".join(rules)


def failures(validation: tfma.ValidationResult) -> set[FailureKey]:
    found = set()
    for per_slice in validation.metric_validations_per_slice:
        name = slice_name(tfma.slicer.deserialize_slice_key(per_slice.slice_key))
        found.update((name, f.metric_key.name, f.metric_key.is_diff) for f in per_slice.failures)
    return found


def gate_checks(
    eval_config: tfma.EvalConfig, slices: Mapping[str, SliceResult], failed: set[FailureKey]
) -> list[GateCheck]:
    """One check per (threshold, slice it applies to), in config order, overall slice first."""
    thresholds = tfma.metrics.metric_thresholds_from_metrics_specs(
        eval_config.metrics_specs, eval_config=eval_config
    )
    checks = []
    for key, applied in thresholds.items():
        if key.model_name == tfma.BASELINE_KEY:
            continue  # TFMA configures thresholds for the baseline too but never checks them.
        for slice_spec, threshold in applied:
            for name, result in slices.items():
                if slice_spec is not None and not tfma.slicer.SingleSliceSpec(
                        spec=slice_spec).is_slice_applicable(result.key):
                    continue
                checks.append(GateCheck(
                    slice=name,
                    metric=key.name,
                    rule=(_change_rule if key.is_diff else _bounds)(key.name, threshold),
                    is_change=key.is_diff,
                    candidate=result.candidate.get(key.name),
                    baseline=result.baseline.get(key.name) if key.is_diff else None,
                    change=result.change.get(key.name) if key.is_diff else None,
                    passed=(name, key.name, key.is_diff) not in failed,
                ))
    return checks
