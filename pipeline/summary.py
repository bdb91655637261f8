"""The end-of-run summary, read from ML Metadata and the artifacts the run produced."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from pipeline import pipeline as dag
from pipeline.config import PipelineConfig
from pipeline.input_check import StagingReport

_STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
}


@dataclasses.dataclass
class RunSummary:
    report: StagingReport | None
    components: dict[str, tuple[str, float | None]]  # id -> (state, seconds)
    split_rows: dict[str, int]
    anomalies: dict[str, list[str]]  # split -> "feature: description"
    metrics: dict[str, dict[str, float]]  # slice name -> metric name -> value
    blessed: bool | None
    blessing_reasons: list[str]
    pushed_path: str | None
    evaluation_uri: str | None


def latest_run_outputs(config: PipelineConfig) -> tuple[dict[str, Any], dict[str, dict[str, list[Any]]]]:
    """(component id -> execution, component id -> output key -> artifacts) of the latest run."""
    store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(config.metadata_path))
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        raise FileNotFoundError(f"no pipeline run recorded in {config.metadata_path}")
    run = max(runs, key=lambda context: context.create_time_since_epoch)
    executions = store.get_executions_by_context(run.id)
    node_prefix = f"{config.pipeline_name}."
    by_node: dict[str, Any] = {}
    for execution in executions:
        for context in store.get_contexts_by_execution(execution.id):
            if context.type == "node" and context.name.startswith(node_prefix):
                by_node[context.name[len(node_prefix):]] = execution
    node_of = {execution.id: node for node, execution in by_node.items()}
    events = [
        event for event in store.get_events_by_execution_ids(list(node_of))
        if event.type == metadata_store_pb2.Event.OUTPUT
    ]
    artifacts = {a.id: a for a in store.get_artifacts_by_id([event.artifact_id for event in events])}
    outputs: dict[str, dict[str, list[Any]]] = {}
    for event in events:
        key = event.path.steps[0].key if event.path.steps else ""
        outputs.setdefault(node_of[event.execution_id], {}).setdefault(key, []).append(artifacts[event.artifact_id])
    return by_node, outputs


def _split_rows(statistics_uri: str) -> dict[str, int]:
    import tensorflow_data_validation as tfdv

    rows = {}
    for entry in sorted(os.listdir(statistics_uri)):
        stats_file = os.path.join(statistics_uri, entry, "FeatureStats.pb")
        if entry.startswith("Split-") and os.path.exists(stats_file):
            stats = tfdv.load_stats_binary(stats_file)
            rows[entry[len("Split-"):]] = int(stats.datasets[0].num_examples)
    return rows


def _anomalies(anomalies_uri: str) -> dict[str, list[str]]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = {}
    for entry in sorted(os.listdir(anomalies_uri)):
        path = os.path.join(anomalies_uri, entry, "SchemaDiff.pb")
        if entry.startswith("Split-") and os.path.exists(path):
            anomalies = anomalies_pb2.Anomalies.FromString(open(path, "rb").read())
            found[entry[len("Split-"):]] = [
                f"{feature}: {info.short_description or info.description}"
                for feature, info in sorted(anomalies.anomaly_info.items())
            ]
    return found


def slice_name(slice_key: tuple) -> str:
    return "overall" if not slice_key else ", ".join(f"{k}={v}" for k, v in slice_key)


def _metrics(evaluation_uri: str) -> dict[str, dict[str, float]]:
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri)
    table = {}
    for slice_key, by_output in result.slicing_metrics:
        values = {}
        for by_sub_key in by_output.values():
            for name, value in by_sub_key.get("", {}).items():
                if name.endswith("_diff"):  # Candidate minus baseline; the report shows those.
                    continue
                if "doubleValue" in value:
                    values[name] = float(value["doubleValue"])  # TFMA writes NaN as the string "NaN".
                elif "confusionMatrixAtThresholds" in value:
                    matrix = value["confusionMatrixAtThresholds"]["matrices"][0]
                    for cell in ("truePositives", "falsePositives", "trueNegatives", "falseNegatives"):
                        values[cell] = matrix.get(cell, 0.0)
        table[slice_name(slice_key)] = values
    return dict(sorted(table.items(), key=lambda item: item[0] != "overall"))


def _blessing_reasons(evaluation_uri: str, blessed: bool, has_baseline: bool) -> list[str]:
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    reasons = []
    for per_slice in validation.metric_validations_per_slice:
        for failure in per_slice.failures:
            reasons.append(f"{failure.metric_key.name} = {failure.metric_value.double_value.value:.4f} "
                           f"fails {failure.metric_threshold}".replace("\n", " ").strip())
    if blessed:
        reasons.append("AUC meets the lower bound" + (" and does not fall below the baseline's"
                                                       if has_baseline else " (no blessed baseline yet)"))
    return reasons


def collect(config: PipelineConfig, report: StagingReport | None, durations: dict[str, float]) -> RunSummary:
    executions, outputs = latest_run_outputs(config)
    uri = lambda node, key: outputs[node][key][0].uri if outputs.get(node, {}).get(key) else None  # noqa: E731
    blessing = outputs.get(dag.EVALUATOR, {}).get("blessing", [None])[0]
    blessed = bool(blessing.custom_properties["blessed"].int_value) if blessing is not None else None
    evaluation_uri = uri(dag.EVALUATOR, "evaluation")
    baseline = outputs.get(dag.BASELINE_RESOLVER, {}).get("model", [])
    pushed = outputs.get(dag.PUSHER, {}).get("pushed_model", [None])[0]
    pushed_path = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        pushed_path = pushed.custom_properties["pushed_destination"].string_value
    return RunSummary(
        report=report,
        components={
            node: (_STATE_NAMES.get(execution.last_known_state, "?"), durations.get(node))
            for node, execution in sorted(executions.items(), key=lambda item: item[1].id)
        },
        split_rows=_split_rows(uri(dag.STATISTICS_GEN, "statistics")),
        anomalies=_anomalies(uri(dag.EXAMPLE_VALIDATOR, "anomalies")),
        metrics=_metrics(evaluation_uri) if evaluation_uri else {},
        blessed=blessed,
        blessing_reasons=_blessing_reasons(evaluation_uri, bool(blessed), bool(baseline)) if evaluation_uri else [],
        pushed_path=pushed_path,
        evaluation_uri=evaluation_uri,
    )


_METRIC_ORDER = ("example_count", "auc", "auc_precision_recall", "loss", "binary_accuracy",
                 "precision", "recall", "f1_score",
                 "truePositives", "falsePositives", "trueNegatives", "falseNegatives")


def render(summary: RunSummary) -> str:
    lines = ["", "Run summary", "==========="]
    if summary.report:
        first, *rest = summary.report.summary_lines()
        lines.append(f"Input:       {first}")
        lines.extend(f"             {line}" for line in rest)
    lines.append("Splits:      " + ", ".join(f"{split} {rows:,} rows" for split, rows in summary.split_rows.items()))
    anomaly_lines = [f"{split}: {a}" for split, found in summary.anomalies.items() for a in found]
    lines.append("Anomalies:   " + ("none" if not anomaly_lines else anomaly_lines[0]))
    lines.extend(f"             {line}" for line in anomaly_lines[1:])
    lines.append("Components:  " + ", ".join(
        f"{node} {state}" + (f" {seconds:.0f}s" if seconds is not None else "")
        for node, (state, seconds) in summary.components.items()))
    overall = summary.metrics.get("overall", {})  # Per-slice figures are in the evaluation report.
    if overall:
        lines.append("Metrics:     " + " ".join(
            f"{name}={overall[name]:.4g}" for name in _METRIC_ORDER if name in overall))
    if summary.blessed is None:
        lines.append("Blessing:    no evaluation in this run")
    else:
        lines.append(f"Blessing:    {'BLESSED' if summary.blessed else 'NOT blessed'}")
        lines.extend(f"             {reason}" for reason in summary.blessing_reasons)
    lines.append(f"Pushed:      {summary.pushed_path or 'nothing pushed'}")
    return "\n".join(lines)
