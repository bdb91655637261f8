"""Classification metrics from confusion counts: pure functions, no TensorFlow.

TFMA gives the confusion counts of the served decision (the `label` output) and of the
probability at 1,000 thresholds; everything the report shows is derived here from those
counts. The classification report follows scikit-learn's `classification_report` exactly,
including `zero_division=0`: a ratio with an empty denominator (precision of a class the model
never predicts) is 0, not NaN.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

# Labels 0 and 1 of the Kaggle schema (preprocessing.features.LABEL_KEY), in label order.
CLASS_NAMES = ("reliable", "unreliable")
ACCURACY = "accuracy"
MACRO_AVG = "macro avg"
WEIGHTED_AVG = "weighted avg"
_SCORES = ("precision", "recall", "f1-score")


@dataclasses.dataclass(frozen=True)
class Confusion:
    """Counts of one binary decision rule, `unreliable` (label 1) being the positive class."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def has_both_classes(self) -> bool:
        """Whether truth holds both labels: a ranking measure (AUC) is undefined otherwise."""
        return self.tp + self.fn > 0 and self.tn + self.fp > 0

    def swapped(self) -> Confusion:
        """The same decisions with `reliable` as the positive class."""
        return Confusion(tp=self.tn, fp=self.fn, tn=self.tp, fn=self.fp)

    def matrix(self) -> list[list[int]]:
        """Rows: truth, columns: prediction, in label order (scikit-learn's confusion_matrix)."""
        return [[self.tn, self.fp], [self.fn, self.tp]]


@dataclasses.dataclass(frozen=True)
class CurvePoint:
    """The confusion counts when `probability > threshold` is called unreliable."""

    threshold: float
    confusion: Confusion


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _class_scores(c: Confusion) -> dict[str, float]:
    return {
        "precision": _ratio(c.tp, c.tp + c.fp),
        "recall": _ratio(c.tp, c.tp + c.fn),
        # scikit-learn's form: equals the harmonic mean wherever that is defined.
        "f1-score": _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
        "support": c.tp + c.fn,
    }


def classification_report(c: Confusion) -> dict[str, dict[str, float] | float]:
    """scikit-learn's `classification_report(..., output_dict=True, zero_division=0)`."""
    per_class = {CLASS_NAMES[0]: _class_scores(c.swapped()), CLASS_NAMES[1]: _class_scores(c)}
    total = c.total
    report: dict[str, dict[str, float] | float] = dict(per_class)
    report[ACCURACY] = _ratio(c.tp + c.tn, total)
    report[MACRO_AVG] = {
        **{score: sum(row[score] for row in per_class.values()) / len(per_class) for score in _SCORES},
        "support": total,
    }
    report[WEIGHTED_AVG] = {
        **{score: _ratio(sum(row[score] * row["support"] for row in per_class.values()), total)
           for score in _SCORES},
        "support": total,
    }
    return report


def format_classification_report(report: dict[str, dict[str, float] | float], digits: int = 4) -> str:
    """The text of scikit-learn's `classification_report`, character for character."""
    width = max(len(name) for name in (*CLASS_NAMES, WEIGHTED_AVG))
    blank = f" {'':>9}"

    def row(name: str, values: dict[str, float]) -> str:
        scores = "".join(f" {values[score]:>9.{digits}f}" for score in _SCORES)
        return f"{name:>{width}} {scores} {values['support']:>9}"

    header = f"{'':>{width}} " + "".join(f" {name:>9}" for name in (*_SCORES, "support"))
    accuracy = (f"{ACCURACY:>{width}} {blank}{blank} {report[ACCURACY]:>9.{digits}f}"
                f" {report[MACRO_AVG]['support']:>9}")
    lines = [header, "", *(row(name, report[name]) for name in CLASS_NAMES), "",
             accuracy, row(MACRO_AVG, report[MACRO_AVG]), row(WEIGHTED_AVG, report[WEIGHTED_AVG])]
    return "\n".join(lines) + "\n"


@dataclasses.dataclass(frozen=True)
class OperatingPoint:
    """Where a decision rule sits on the ROC and precision-recall curves."""

    false_positive_rate: float
    recall: float  # = true positive rate
    precision: float | None  # None when nothing is called unreliable: 0/0, no point on the PR curve.


def operating_point(c: Confusion) -> OperatingPoint:
    return OperatingPoint(
        false_positive_rate=c.fp / (c.fp + c.tn) if c.fp + c.tn else math.nan,
        recall=c.tp / (c.tp + c.fn) if c.tp + c.fn else math.nan,
        precision=c.tp / (c.tp + c.fp) if c.tp + c.fp else None,
    )


def roc_curve(points: Sequence[CurvePoint]) -> tuple[list[float], list[float]]:
    """(false positive rates, true positive rates), from the lowest threshold to the highest."""
    rates = [operating_point(p.confusion) for p in sorted(points, key=lambda p: p.threshold)]
    return [r.false_positive_rate for r in rates], [r.recall for r in rates]


def precision_recall_curve(points: Sequence[CurvePoint]) -> tuple[list[float], list[float]]:
    """(recalls, precisions) at the thresholds where anything is called unreliable."""
    rates = [operating_point(p.confusion) for p in sorted(points, key=lambda p: p.threshold)]
    defined = [r for r in rates if r.precision is not None]
    return [r.recall for r in defined], [r.precision for r in defined]
