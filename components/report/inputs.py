"""Everything the report says, gathered from the component's input artifacts.

Reads through tf.io.gfile, so artifact URIs may be local paths or gs:// (Kubeflow).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.types import artifact_utils
from tfx.utils import path_utils

from components.report import blessing, tfma_results
from components.report.layout import OVERALL_SLICE
from components import training_summary
from components.baseline import served_model_of
from components.input_checks import INPUT_COUNTS_PROPERTY, InputCounts
from components.report.metrics import classification_report
from preprocessing import features


@dataclasses.dataclass(frozen=True)
class SplitCounts:
    rows: int
    unreliable: int  # Rows labelled 1.


@dataclasses.dataclass(frozen=True)
class Layer:
    name: str
    shapes: tuple[tuple[int, ...], ...]  # Of its weights.
    parameters: int


@dataclasses.dataclass(frozen=True)
class ServedModel:
    threshold: float  # The decision threshold serving applies (components/signatures.py).
    layers: tuple[Layer, ...]  # Layers with weights, in the model's order.


@dataclasses.dataclass(frozen=True)
class Report:
    model_uri: str
    served: ServedModel
    blessed: bool
    baseline_model_uri: str | None  # The Evaluator's baseline artifact, when it had one.
    baseline_served: dict[str, str] | None  # Its served version and path (components/baseline.py).
    evaluation: tfma_results.Evaluation
    checks: list[blessing.GateCheck]
    classification: dict[str, Any]  # scikit-learn's classification_report(output_dict=True) shape.
    splits: dict[str, SplitCounts]  # From StatisticsGen, by split name.
    data_source: str  # The input the user named (file or folder of CSV).
    input_counts: InputCounts  # What the ExampleGen's checks read, kept, cleaned and skipped.
    training: dict[str, Any]  # The Trainer's training summary (components/training_summary.py).


def served_model(model: types.Artifact) -> ServedModel:
    """What the exported SavedModel holds: its stored threshold and its layers' weights."""
    loaded = tf.saved_model.load(path_utils.serving_model_path(model.uri))
    by_layer: dict[str, list[tuple[int, ...]]] = {}
    for variable in loaded.model.variables:  # Named "<layer>/<weight>:0", in layer order.
        by_layer.setdefault(variable.name.split("/")[0], []).append(tuple(variable.shape.as_list()))
    return ServedModel(
        threshold=float(loaded.threshold.numpy()),
        layers=tuple(Layer(name, tuple(shapes), sum(math.prod(shape) for shape in shapes))
                     for name, shapes in by_layer.items()),
    )


def split_counts(statistics: types.Artifact) -> dict[str, SplitCounts]:
    """Rows and unreliable rows per split, from StatisticsGen's per-split statistics."""
    counts = {}
    for split in artifact_utils.decode_split_names(statistics.split_names):
        stats = tfdv.load_stats_binary(os.path.join(statistics.uri, f"Split-{split}", "FeatureStats.pb"))
        dataset = stats.datasets[0]
        label = next((f for f in dataset.features if list(f.path.step) == [features.LABEL_KEY]), None)
        if label is None:
            raise ValueError(f"{statistics.uri}: split {split} has no statistics for {features.LABEL_KEY!r}")
        common = label.num_stats.common_stats
        # The label is 0/1, so its mean times its count is the number of 1s.
        counts[split] = SplitCounts(rows=int(dataset.num_examples),
                                    unreliable=round(label.num_stats.mean * common.num_non_missing))
    return counts


def gather(
    evaluation: types.Artifact, model_blessing: types.Artifact, model: types.Artifact,
    model_run: types.Artifact, statistics: types.Artifact, examples: types.Artifact, data_source: str,
) -> Report:
    result = tfma_results.read(evaluation.uri)
    baseline_uri = model_blessing.get_string_custom_property(
        evaluator_constants.ARTIFACT_PROPERTY_BASELINE_MODEL_URI_KEY) or None
    return Report(
        model_uri=model.uri,
        served=served_model(model),
        blessed=bool(model_blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY)),
        baseline_model_uri=baseline_uri,
        baseline_served=served_model_of(baseline_uri) if baseline_uri else None,
        evaluation=result,
        checks=blessing.gate_checks(result.config, result.slices, blessing.failures(result.validation)),
        classification=classification_report(result.slices[OVERALL_SLICE].confusion),
        splits=split_counts(statistics),
        data_source=data_source,
        input_counts=InputCounts.from_json(examples.get_string_custom_property(INPUT_COUNTS_PROPERTY)),
        training=training_summary.read(model_run.uri),
    )
