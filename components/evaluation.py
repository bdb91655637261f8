"""TFMA evaluation config: metrics, the author slice, and the blessing thresholds.

The model's `predict_examples` signature returns two outputs. `probability` feeds the
threshold-free metrics (AUC, the blessing); `label`, the decision at the threshold stored in
the model, feeds the thresholded ones at 0.5, so TFMA's precision, recall, F1 and confusion
counts are those of the decision the served model actually makes.
"""

from __future__ import annotations

import json

import tensorflow_model_analysis as tfma

from components.signature_names import PREDICTED_LABEL, PROBABILITY
from preprocessing import features

# A 0/1 decision is above 0.5 exactly when it is 1.
_DECISION_THRESHOLD = 0.5
_NO_REGRESSION = 1e-10  # The candidate's AUC may not fall below the baseline's.


def _metric(class_name: str, **config: object) -> tfma.MetricConfig:
    return tfma.MetricConfig(class_name=class_name, config=json.dumps(config) if config else "")


def _auc_gates(config: tfma.EvalConfig) -> list[tfma.MetricThreshold]:
    """The thresholds the blessing reads: the AUC's, on the overall slice."""
    return [slice_threshold.threshold for spec in config.metrics_specs for metric in spec.metrics
            if metric.class_name == "AUC" for slice_threshold in metric.per_slice_thresholds]


def with_min_auc(config: tfma.EvalConfig, min_auc: float) -> tfma.EvalConfig:
    """`config` with the blessing's absolute AUC bound set to `min_auc` (a Kubeflow run parameter
    can change it after compilation: components/baseline.py)."""
    updated = tfma.EvalConfig()
    updated.CopyFrom(config)
    gates = _auc_gates(updated)
    if not gates:
        raise ValueError("the eval config has no AUC threshold to set")
    for gate in gates:
        gate.value_threshold.lower_bound.value = min_auc
    return updated


def eval_config(min_auc: float) -> tfma.EvalConfig:
    auc_gate = tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": min_auc}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER, absolute={"value": -_NO_REGRESSION}
        ),
    )
    at_threshold = {"thresholds": [_DECISION_THRESHOLD]}
    return tfma.EvalConfig(
        model_specs=[
            tfma.ModelSpec(
                signature_name="predict_examples",
                label_keys={PROBABILITY: features.LABEL_KEY, PREDICTED_LABEL: features.LABEL_KEY},
                preprocessing_function_names=["transform_features"],
            )
        ],
        slicing_specs=[
            tfma.SlicingSpec(),
            tfma.SlicingSpec(feature_keys=[features.AUTHOR_PRESENT_KEY]),
        ],
        metrics_specs=[
            tfma.MetricsSpec(
                output_names=[PROBABILITY],
                metrics=[
                    _metric("ExampleCount"),
                    # The gate reads the overall slice only: the author slices can be small
                    # enough (a few dozen articles) for their AUC to be noise.
                    tfma.MetricConfig(
                        class_name="AUC",
                        per_slice_thresholds=[
                            tfma.PerSliceMetricThreshold(slicing_specs=[tfma.SlicingSpec()], threshold=auc_gate)
                        ],
                    ),
                    _metric("AUC", name="auc_precision_recall", curve="PR"),
                    _metric("BinaryCrossentropy", name="loss"),
                    # Confusion counts at 1,000 thresholds: the evaluation report's ROC and
                    # precision-recall curves (components/report) are drawn from them.
                    _metric("ConfusionMatrixPlot", num_thresholds=1000),
                ],
            ),
            tfma.MetricsSpec(
                output_names=[PREDICTED_LABEL],
                metrics=[
                    _metric("BinaryAccuracy", threshold=_DECISION_THRESHOLD),
                    _metric("Precision", **at_threshold),
                    _metric("Recall", **at_threshold),
                    _metric("F1Score", **at_threshold),
                    _metric("ConfusionMatrixAtThresholds", **at_threshold),
                ],
            ),
        ],
    )
