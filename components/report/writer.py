"""Writes every file of the report artifact, through tf.io.gfile (local paths or gs://)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any, Mapping

import tensorflow as tf
from matplotlib.figure import Figure

from components.report import explanations, layout, model_card, plots
from components.report.inputs import Report
from components.report.metrics import format_classification_report
from components.report.render import render_text

# The AUC metrics' names in components/evaluation.py: TFMA's values go in the legends.
_ROC_AUC = "auc"
_PR_AUC = "auc_precision_recall"


def _finite(values: Mapping[str, float]) -> dict[str, float | None]:
    # JSON has no NaN; TFMA's precision is NaN when nothing is called unreliable.
    return {name: None if math.isnan(value) else value for name, value in values.items()}


def report_json(report: Report) -> dict[str, Any]:
    return {
        "model_uri": report.model_uri,
        "threshold": report.served.threshold,
        "blessed": report.blessed,
        "baseline_model_uri": report.baseline_model_uri,
        "baseline_served": report.baseline_served,
        "slices": {
            name: {
                "confusion": dataclasses.asdict(result.confusion),
                "metrics": _finite(result.candidate),
                "baseline": _finite(result.baseline),
                "change": _finite(result.change),
            }
            for name, result in report.evaluation.slices.items()
        },
        "checks": [dataclasses.asdict(check) for check in report.checks],
        "splits": {split: dataclasses.asdict(counts) for split, counts in report.splits.items()},
        "data_source": report.data_source,
        "input_counts": json.loads(report.input_counts.counts_json()),
        "explanations": {
            "articles": report.explanations.articles,
            "per_article": explanations.PER_ARTICLE,
            "toward": {name: [dataclasses.asdict(count) for count in counts]
                       for name, counts in report.explanations.toward.items()},
        },
    }


def figures(report: Report) -> dict[str, Figure]:
    """The overall slice's figures, by PNG file name."""
    overall = report.evaluation.slices[layout.OVERALL_SLICE]
    threshold = report.served.threshold
    return {
        layout.CONFUSION_MATRIX_PNG: plots.confusion_matrix_figure(overall.confusion, threshold),
        layout.ROC_PNG: plots.roc_figure(overall.curve, overall.candidate[_ROC_AUC], threshold, overall.confusion),
        layout.PRECISION_RECALL_PNG: plots.precision_recall_figure(
            overall.curve, overall.candidate[_PR_AUC], threshold, overall.confusion),
    }


def write(report: Report, output_uri: str) -> None:
    files: dict[str, str | bytes] = {
        layout.REPORT_TXT: render_text(report),
        layout.REPORT_JSON: json.dumps(report_json(report), indent=2),
        layout.CLASSIFICATION_REPORT_TXT: format_classification_report(report.classification),
        layout.CLASSIFICATION_REPORT_JSON: json.dumps(report.classification, indent=2),
        layout.MODEL_CARD_MD: model_card.render(report),
        **{name: plots.png_bytes(figure) for name, figure in figures(report).items()},
    }
    if report.explanations.example is not None:
        files[layout.EXPLANATION_HTML] = explanations.article_html(report.explanations.example)
    tf.io.gfile.makedirs(output_uri)
    for name, content in files.items():
        with tf.io.gfile.GFile(os.path.join(output_uri, name), "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)
