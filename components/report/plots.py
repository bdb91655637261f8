"""The report's figures, drawn with matplotlib's Agg canvas.

Figures are built with `matplotlib.figure.Figure` rather than pyplot: no global state, no GUI
backend to select, safe in a Beam worker or a Kubeflow pod. Each function returns the Figure,
so tests can read its text objects; `png_bytes` renders it for any filesystem (GCS included).
"""

from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from components.report.metrics import (
    CLASS_NAMES,
    Confusion,
    CurvePoint,
    operating_point,
    precision_recall_curve,
    roc_curve,
)

_SIZE_INCHES = (6.0, 5.0)
_DPI = 120  # 720 x 600 pixels.
_CHANCE_STYLE = {"linestyle": "--", "color": "grey", "linewidth": 1}


def _figure() -> Figure:
    figure = Figure(figsize=_SIZE_INCHES, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)  # Attaches itself to the figure: Agg renders it.
    return figure


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def confusion_matrix_figure(confusion: Confusion, threshold: float,
                            class_names: Sequence[str] = CLASS_NAMES) -> Figure:
    """The notebook's Figure 3: an annotated heatmap, truth in rows, prediction in columns."""
    figure = _figure()
    axes = figure.add_subplot()
    matrix = np.array(confusion.matrix())
    image = axes.imshow(matrix, cmap="Blues", vmin=0)
    figure.colorbar(image, ax=axes, label="articles")
    for (row, column), count in np.ndenumerate(matrix):
        # White on the dark half of the colour map, so every count stays legible.
        colour = "white" if count > matrix.max() / 2 else "black"
        axes.text(column, row, f"{count:d}", ha="center", va="center", color=colour, fontsize=16)
    axes.set_xticks(range(len(class_names)), class_names)
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("Predicted")
    axes.set_ylabel("Truth")
    axes.set_title(f"Confusion matrix, eval split (threshold {threshold:.4g})")
    return figure


def _threshold_label(threshold: float) -> str:
    return f"served threshold {threshold:.4g}"


def roc_figure(curve: Sequence[CurvePoint], auc: float, threshold: float, at_threshold: Confusion) -> Figure:
    """ROC curve with TFMA's AUC, and the served model's decision rule marked on it."""
    figure = _figure()
    axes = figure.add_subplot()
    false_positive_rates, true_positive_rates = roc_curve(curve)
    axes.plot(false_positive_rates, true_positive_rates, label=f"ROC (AUC = {auc:.3f})")
    axes.plot([0, 1], [0, 1], label="chance (AUC = 0.500)", **_CHANCE_STYLE)
    point = operating_point(at_threshold)
    # clip_on=False: a rule that flags nothing sits at the corner (0, 0) and must stay visible.
    axes.plot(point.false_positive_rate, point.recall, "o", color="crimson", markersize=8, clip_on=False,
              label=f"{_threshold_label(threshold)}: FPR {point.false_positive_rate:.3f}, "
                    f"TPR {point.recall:.3f}")
    axes.set(xlim=(0, 1), ylim=(0, 1.02), aspect="equal",
             xlabel="False positive rate (reliable articles flagged)",
             ylabel="True positive rate (unreliable articles caught)",
             title="ROC curve, eval split")
    axes.legend(loc="lower right")
    return figure


def precision_recall_figure(curve: Sequence[CurvePoint], auc: float, threshold: float,
                            at_threshold: Confusion) -> Figure:
    """Precision-recall curve with TFMA's AUC, and the served model's decision rule marked."""
    figure = _figure()
    axes = figure.add_subplot()
    recalls, precisions = precision_recall_curve(curve)
    axes.plot(recalls, precisions, label=f"precision-recall (AUC = {auc:.3f})")
    # A classifier without skill has precision = the share of unreliable articles.
    prevalence = (at_threshold.tp + at_threshold.fn) / at_threshold.total
    axes.axhline(prevalence, label=f"chance (precision = {prevalence:.3f})", **_CHANCE_STYLE)
    point = operating_point(at_threshold)
    if point.precision is None:
        # Nothing is called unreliable: precision is 0/0 and the rule has no point to mark.
        axes.text(0.98, 0.12, f"{_threshold_label(threshold)}: no article called unreliable",
                  transform=axes.transAxes, ha="right", color="crimson")
    else:
        axes.plot(point.recall, point.precision, "o", color="crimson", markersize=8, clip_on=False,
                  label=f"{_threshold_label(threshold)}: recall {point.recall:.3f}, "
                        f"precision {point.precision:.3f}")
    axes.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="Recall (unreliable articles caught)",
             ylabel="Precision (flagged articles that are unreliable)",
             title="Precision-recall curve, eval split")
    axes.legend(loc="lower left")
    return figure
