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

from components.report import blessing, explanations, tfma_results
from components.report.layout import OVERALL_SLICE
from components import training_summary
from components.baseline import served_model_of
from components.input_checks import INPUT_COUNTS_PROPERTY, InputCounts
from components.report.metrics import classification_report
from components.signature_names import ATTRIBUTIONS, BASELINE_PROBABILITY, EXPLAIN, PREDICTED_LABEL, PROBABILITY, TOKENS
from preprocessing import features
from serving.explanations import word_shares

# The split TFX's Evaluator evaluates (its default, which pipeline/pipeline.py names).
EVAL_SPLIT = "eval"
_EXPLAIN_BATCH = 64  # Articles per call of the explain signature.


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
    explanations: explanations.Explanations  # The explain signature over the eval split.


def served_model(loaded: Any) -> ServedModel:
    """What the exported SavedModel (as tf.saved_model.load gives it) holds: its stored
    threshold and its layers' weights."""
    by_layer: dict[str, list[tuple[int, ...]]] = {}
    for variable in loaded.model.variables:  # Named "<layer>/<weight>:0", in layer order.
        by_layer.setdefault(variable.name.split("/")[0], []).append(tuple(variable.shape.as_list()))
    return ServedModel(
        threshold=float(loaded.threshold.numpy()),
        layers=tuple(Layer(name, tuple(shapes), sum(math.prod(shape) for shape in shapes))
                     for name, shapes in by_layer.items()),
    )


def eval_articles(examples: types.Artifact) -> dict[str, list[str]]:
    """title, author and text of every eval-split example ('' where absent), in file order."""
    files = sorted(tf.io.gfile.glob(os.path.join(artifact_utils.get_split_uri([examples], EVAL_SPLIT), "*")))
    columns: dict[str, list[str]] = {key: [] for key in features.TEXT_KEYS}
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP"):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        for key, column in columns.items():
            values = feature[key].bytes_list.value if key in feature else []
            column.append(values[0].decode("utf-8") if values else "")
    return columns


def sampled(articles: dict[str, list[str]]) -> dict[str, list[str]]:
    """The articles the report explains (explanations.sample)."""
    chosen = explanations.sample(len(articles[features.TEXT_KEYS[0]]))
    return {key: [column[index] for index in chosen] for key, column in articles.items()}


def explain(loaded: Any, articles: dict[str, list[str]]) -> list[explanations.ExplainedArticle]:
    """Every article through the model's explain signature, in batches."""
    signature = loaded.signatures[EXPLAIN]
    explained = []
    for start in range(0, len(articles[features.TEXT_KEYS[0]]), _EXPLAIN_BATCH):
        outputs = {name: value.numpy() for name, value in signature(**{
            key: tf.constant(column[start:start + _EXPLAIN_BATCH]) for key, column in articles.items()}).items()}
        for row in range(len(outputs[PROBABILITY])):
            explained.append(explanations.ExplainedArticle(
                probability=float(outputs[PROBABILITY][row]),
                label=int(outputs[PREDICTED_LABEL][row]),
                baseline_probability=float(outputs[BASELINE_PROBABILITY][row]),
                words=word_shares([token.decode("utf-8") for token in outputs[TOKENS][row]],
                                  outputs[ATTRIBUTIONS][row].tolist()),
            ))
    return explained


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
    loaded = tf.saved_model.load(path_utils.serving_model_path(model.uri))
    return Report(
        model_uri=model.uri,
        served=served_model(loaded),
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
        explanations=explanations.summarize(explain(loaded, sampled(eval_articles(examples)))),
    )
