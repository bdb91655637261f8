"""The text report: what `fakenews report` and `fakenews run` print, and report.txt holds.

The slice table and the blessing lines are built here once, as rows of strings, and laid out
as plain text here and as Markdown by model_card.py.
"""

from __future__ import annotations

import math
from typing import Any

from components.report import explanations
from components.report.inputs import Report
from components.report.metrics import CLASS_NAMES, Confusion, format_classification_report
from components.report.layout import OVERALL_SLICE
from components.report.tfma_results import RANKING_METRICS

# (column header, TFMA metric name) of the slice table, after the example counts.
_SLICE_METRICS = (
    ("AUC", "auc"), ("PR AUC", "auc_precision_recall"), ("loss", "loss"),
    ("accuracy", "binary_accuracy"), ("precision", "precision"), ("recall", "recall"), ("F1", "f1_score"),
)


def number(value: float | None) -> str:
    # NaN: TFMA's precision when nothing is called unreliable (0/0).
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


UNDEFINED = "undefined"  # A ranking metric on a slice of one class.
UNDEFINED_NOTE = f"{UNDEFINED}: AUC and PR AUC need both classes in the slice"


def slice_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): the candidate's metrics per slice; precision etc. are for `unreliable`."""
    headers = ["slice", "examples", "unreliable", *(header for header, _ in _SLICE_METRICS)]
    rows = []
    for name, result in report.evaluation.slices.items():
        c = result.confusion
        rows.append([name, f"{c.total:,}", f"{c.tp + c.fn:,}", *(
            UNDEFINED if metric in RANKING_METRICS and not c.has_both_classes else number(result.candidate.get(metric))
            for _, metric in _SLICE_METRICS)])
    return headers, rows


def slice_table_notes(rows: list[list[str]]) -> list[str]:
    """What the table's words mean, for the words it holds."""
    return [UNDEFINED_NOTE] if any(UNDEFINED in row for row in rows) else []


def text_table(headers: list[str], rows: list[list[str]]) -> str:
    """First column left-aligned, the numbers right-aligned."""
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    lines = [
        "  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in enumerate(zip(row, widths)))
        for row in [headers, *rows]
    ]
    return "\n".join(lines)


def blessing_lines(report: Report) -> list[str]:
    """The decision, then every threshold TFMA checked: the failed ones first."""
    decision = "BLESSED" if report.blessed else "NOT blessed"
    if report.baseline_served:
        against = (f"compared with the served model, version {report.baseline_served['version']} "
                   f"({report.baseline_served['path']})")
    elif report.baseline_model_uri:
        against = f"compared with the baseline model {report.baseline_model_uri}"
    else:
        against = ("no model served yet to compare with (or comparison turned off), so only absolute "
                   "thresholds applied")
    lines = [f"{decision}: {against}"]
    for check in sorted(report.checks, key=lambda check: check.passed):
        outcome = "passed" if check.passed else "FAILED"
        if check.is_change:
            value = (f"{number(check.candidate)} vs baseline {number(check.baseline)}: "
                     f"change {'n/a' if check.change is None else f'{check.change:+.4f}'}")
        else:
            value = number(check.candidate)
        lines.append(f"{outcome}  {check.rule} [{check.slice}]: {value}")
    return lines


def confusion_table(confusion: Confusion) -> str:
    headers = ["truth \\ predicted", *CLASS_NAMES]
    rows = [[truth, *(f"{count:,}" for count in counts)] for truth, counts in zip(CLASS_NAMES, confusion.matrix())]
    return text_table(headers, rows)


def training_line(training: dict[str, Any]) -> str:
    best = f", best epoch {training['best_epoch']}" if training.get("best_epoch") else ""
    return (f"{training['epochs_run']} epoch(s) run{best}; {training['parameter_count']:,} parameters; "
            f"preset {training['hyperparameters']['preset']!r}")


def explanation_table(report: Report) -> tuple[list[str], list[list[str]]]:
    """(headers, rows): the words that most often pushed eval articles each way, side by side."""
    headers, columns = [], []
    for name in (CLASS_NAMES[1], CLASS_NAMES[0]):
        headers += [f"toward {name}", "articles", "mean share"]
        columns.append([[count.word, f"{count.articles:,}", f"{count.mean_share:+.4f}"]
                        for count in report.explanations.toward[name]])
    depth = max(map(len, columns))
    rows = [sum((column[i] if i < len(column) else ["", "", ""] for column in columns), []) for i in range(depth)]
    return headers, rows


def explanation_heading(report: Report) -> str:
    return (f"Words that most often pushed eval articles each way (each article's {explanations.PER_ARTICLE} "
            f"strongest; {report.explanations.articles:,} articles, the eval split's or an evenly spaced "
            f"{explanations.EXPLAINED_ARTICLES:,} of them; explain signature)")


_THRESHOLD_METRICS = {"f1": "F1 of `unreliable`", "accuracy": "accuracy"}


def threshold_choice(training: dict[str, Any]) -> str:
    """How the served threshold was set, from the training summary's hyperparameters."""
    hyperparameters = training["hyperparameters"]
    if not hyperparameters.get("tune_threshold"):
        return "the notebook's rule"
    # Runs from before the choice of metric chose for F1.
    metric = _THRESHOLD_METRICS[hyperparameters.get("threshold_metric", "f1")]
    return f"chosen for {metric} on the validation slice of the train split"


def render_text(report: Report) -> str:
    overall = report.evaluation.slices[OVERALL_SLICE].confusion
    unreliable = overall.tp + overall.fn
    table = slice_table(report)
    sections = [
        "Evaluation report\n=================",
        f"Model:      {report.model_uri}\n"
        f"Training:   {training_line(report.training)}\n"
        f"Threshold:  {report.served.threshold:.4g} (stored in the SavedModel: probability >= threshold "
        f"is called unreliable; {threshold_choice(report.training)})\n"
        f"Eval split: {overall.total:,} articles, {unreliable:,} unreliable "
        f"({unreliable / overall.total:.1%})",
        f"Classification report (eval split, threshold {report.served.threshold:.4g})\n\n"
        + format_classification_report(report.classification).rstrip(),
        "Confusion matrix (eval split)\n\n" + confusion_table(overall),
        "Metrics by slice (precision, recall, F1 of `unreliable`)\n\n" + text_table(*table)
        + "".join(f"\n{note}" for note in slice_table_notes(table[1])),
        "Blessing\n\n" + "\n  ".join(blessing_lines(report)),
        explanation_heading(report) + "\n\n" + text_table(*explanation_table(report)),
    ]
    return "\n\n".join(sections) + "\n"
