"""The end-of-run summary: component states from ML Metadata, anomalies, and what the
EvaluationReport wrote in its report.json: the input checks' counts, split counts, metrics,
the blessing. The report is printed after the summary and explains the blessing; the summary
only says which way it went, so the reasons are stated once, by the report's own code."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.input_checks import InputCounts
from components.report import layout
from pipeline import pipeline as dag

_STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: "ran",
    metadata_store_pb2.Execution.CACHED: "cached",
    metadata_store_pb2.Execution.FAILED: "failed",
    metadata_store_pb2.Execution.RUNNING: "running",
}


@dataclasses.dataclass
class RunSummary:
    input_counts: InputCounts | None  # What the ExampleGen's checks read, kept, cleaned, skipped.
    components: dict[str, tuple[str, float | None]]  # id -> (state, seconds)
    anomalies: dict[str, list[str]]  # split -> "feature: description"
    evaluation: dict[str, Any] | None  # The EvaluationReport's report.json; None without one.
    report_folder: str | None
    pushed_path: str | None

    @property
    def blessed(self) -> bool | None:
        return None if self.evaluation is None else bool(self.evaluation["blessed"])

    @property
    def split_rows(self) -> dict[str, int]:
        return {split: counts["rows"] for split, counts in (self.evaluation or {}).get("splits", {}).items()}

    @property
    def overall_metrics(self) -> dict[str, float | None]:
        """The candidate's metrics on the whole eval split, with its confusion counts."""
        if self.evaluation is None:
            return {}
        overall = self.evaluation["slices"][layout.OVERALL_SLICE]
        return {**overall["metrics"], **overall["confusion"]}


def latest_run_outputs(metadata_path: str, pipeline_name: str) -> tuple[dict[str, Any], dict[str, dict[str, list[Any]]]]:
    """(component id -> execution, component id -> output key -> artifacts) of the latest run."""
    store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
    runs = store.get_contexts_by_type("pipeline_run")
    if not runs:
        raise FileNotFoundError(f"no pipeline run recorded in {metadata_path}")
    run = max(runs, key=lambda context: context.create_time_since_epoch)
    executions = store.get_executions_by_context(run.id)
    node_prefix = f"{pipeline_name}."
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


def _anomalies(anomalies_uri: str) -> dict[str, list[str]]:
    from tensorflow_metadata.proto.v0 import anomalies_pb2

    found = {}
    for entry in sorted(os.listdir(anomalies_uri)):
        path = os.path.join(anomalies_uri, entry, "SchemaDiff.pb")
        if entry.startswith("Split-") and os.path.exists(path):
            with open(path, "rb") as f:
                anomalies = anomalies_pb2.Anomalies.FromString(f.read())
            found[entry[len("Split-"):]] = [
                f"{feature}: {info.short_description or info.description}"
                for feature, info in sorted(anomalies.anomaly_info.items())
            ]
    return found


def collect(metadata_path: str, pipeline_name: str, durations: dict[str, float]) -> RunSummary:
    executions, outputs = latest_run_outputs(metadata_path, pipeline_name)
    first = lambda node, key: (outputs.get(node, {}).get(key) or [None])[0]  # noqa: E731
    report_artifact = first(dag.EVALUATION_REPORT, "report")
    evaluation = None
    if report_artifact is not None:
        with open(os.path.join(report_artifact.uri, layout.REPORT_JSON), encoding="utf-8") as f:
            evaluation = json.load(f)
    anomalies = first(dag.EXAMPLE_VALIDATOR, "anomalies")
    pushed = first(dag.PUSHER, "pushed_model")
    pushed_path = None
    if pushed is not None and pushed.custom_properties["pushed"].int_value:
        pushed_path = pushed.custom_properties["pushed_destination"].string_value
    return RunSummary(
        input_counts=InputCounts(**evaluation["input_counts"]) if evaluation is not None else None,
        components={
            node: (_STATE_NAMES.get(execution.last_known_state, "?"), durations.get(node))
            for node, execution in sorted(executions.items(), key=lambda item: item[1].id)
        },
        anomalies=_anomalies(anomalies.uri) if anomalies is not None else {},
        evaluation=evaluation,
        report_folder=report_artifact.uri if report_artifact is not None else None,
        pushed_path=pushed_path,
    )


_METRIC_ORDER = ("example_count", "auc", "auc_precision_recall", "loss", "binary_accuracy",
                 "precision", "recall", "f1_score", "tp", "fp", "tn", "fn")


def render(summary: RunSummary) -> str:
    lines = ["", "Run summary", "==========="]
    if summary.input_counts:
        first, *rest = summary.input_counts.summary_lines()
        lines.append(f"Input:       {first}")
        lines.extend(f"             {line}" for line in rest)
    if summary.split_rows:
        lines.append("Splits:      " + ", ".join(f"{split} {rows:,} rows" for split, rows in summary.split_rows.items()))
    anomaly_lines = [f"{split}: {a}" for split, found in summary.anomalies.items() for a in found]
    lines.append("Anomalies:   " + ("none" if not anomaly_lines else anomaly_lines[0]))
    lines.extend(f"             {line}" for line in anomaly_lines[1:])
    lines.append("Components:  " + ", ".join(
        f"{node} {state}" + (f" {seconds:.0f}s" if seconds is not None else "")
        for node, (state, seconds) in summary.components.items()))
    overall = summary.overall_metrics  # Per-slice figures are in the evaluation report.
    if overall:
        lines.append("Metrics:     " + " ".join(
            f"{name}={overall[name]:.4g}" for name in _METRIC_ORDER if overall.get(name) is not None))
    if summary.blessed is None:
        lines.append("Blessing:    no evaluation in this run")
    else:
        lines.append(f"Blessing:    {'BLESSED' if summary.blessed else 'NOT blessed'} "
                     "(why: the evaluation report's blessing section)")
    lines.append(f"Pushed:      {summary.pushed_path or 'nothing pushed'}")
    return "\n".join(lines)
