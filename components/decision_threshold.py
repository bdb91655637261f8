"""The decision threshold stored in the exported model: `probability >= threshold` is "unreliable".

Chosen on the train split's validation slice (never the eval split) for one of METRICS:
"f1", the F1 of the fake class (the default: fake articles are the minority the notebook
scores), or "accuracy", the share of all calls that are right (what LIAR's published figures
report). Every distinct cut is scored at once from cumulative counts over the probabilities
sorted high to low.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

NOTEBOOK_THRESHOLD = 0.5  # The notebook's decision rule.
METRICS = ("f1", "accuracy")


def _check(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"threshold metric must be one of {', '.join(METRICS)}, got {metric!r}")


def _scores_at_every_cut(labels: np.ndarray, probabilities: np.ndarray, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct cut t of the rule `probability >= t`, and `metric` at each.

    Only the last index of a run of equal probabilities is a real cut.
    """
    order = np.argsort(-probabilities, kind="stable")
    sorted_probs, sorted_labels = probabilities[order], labels[order].astype(int)
    true_pos = np.cumsum(sorted_labels)
    predicted_pos = np.arange(1, len(sorted_labels) + 1)
    if metric == "f1":
        scores = 2 * true_pos / (predicted_pos + sorted_labels.sum())
    else:
        true_neg = (len(sorted_labels) - sorted_labels.sum()) - (predicted_pos - true_pos)
        scores = (true_pos + true_neg) / len(sorted_labels)
    last_of_tie = np.append(sorted_probs[1:] != sorted_probs[:-1], True)
    return sorted_probs[last_of_tie], scores[last_of_tie]


def score_at(labels: np.ndarray, probabilities: np.ndarray, threshold: float, metric: str = "f1") -> float:
    """`metric` of the rule `probability >= threshold`."""
    _check(metric)
    predicted = probabilities >= threshold
    if metric == "accuracy":
        return float(np.mean(predicted == (labels == 1)))
    true_pos = np.sum(predicted & (labels == 1))
    denominator = predicted.sum() + np.sum(labels == 1)
    return float(2 * true_pos / denominator) if denominator else 0.0


def best_threshold(labels: np.ndarray, probabilities: np.ndarray, metric: str = "f1") -> tuple[float, float]:
    """The threshold t maximising `metric` for the rule `probability >= t`, and that score."""
    _check(metric)
    if not np.any(labels == 1):
        return NOTEBOOK_THRESHOLD, 0.0
    cuts, scores = _scores_at_every_cut(labels, probabilities, metric)
    best = int(np.argmax(scores))
    return float(cuts[best]), float(scores[best])


def natural_cut(metric: str, class_weights: Mapping[int, float] | None = None) -> float:
    """The cut a model's probability has for `metric` before any slice is looked at.

    Class weights w0, w1 train a probability toward w1 p / (w1 p + w0 (1 - p)) for the true
    probability p. Accuracy's best rule is p >= 1/2, which is that probability >= w1 / (w0 + w1):
    for "balanced" weights (components/trainer.py) the share of label 0 among the training
    labels, 0.565 on LIAR, where the slice's own choice near 0.5 cost about 0.003 of eval
    accuracy (README, "Results"). For F1 of the fake class, 0.5: with balanced weights the cut
    where both classes' recalls weigh alike, and the notebook's rule.
    """
    _check(metric)
    if metric == "accuracy" and class_weights:
        return float(class_weights[1] / (class_weights[0] + class_weights[1]))
    return NOTEBOOK_THRESHOLD


def choose_threshold(labels: np.ndarray, probabilities: np.ndarray, metric: str = "f1",
                     prior: float = NOTEBOOK_THRESHOLD, resamples: int = 200, seed: int = 0) -> tuple[float, float]:
    """The `metric`-maximising threshold, up to what the validation slice can tell apart.

    The one-standard-error rule: of the thresholds whose score is within one bootstrap standard
    error of the best, the one closest to `prior` (the model's `natural_cut`). With about a
    hundred fake articles in the slice, the F1-maximising cut moved between 0.44 and 0.69 from
    seed to seed while its F1 barely changed, and the far cuts scored worse on new data. So
    among cuts the slice cannot tell apart, the one the training itself implies is taken.
    Returns the threshold and its score on the slice.
    """
    _check(metric)
    if not np.any(labels == 1):
        return prior, 0.0
    cuts, scores = _scores_at_every_cut(labels, probabilities, metric)
    cuts, scores = np.append(cuts, prior), np.append(scores, score_at(labels, probabilities, prior, metric))
    best = int(np.argmax(scores))
    rng = np.random.default_rng(seed)
    samples = rng.integers(0, len(labels), size=(resamples, len(labels)))
    spread = np.std([score_at(labels[rows], probabilities[rows], cuts[best], metric) for rows in samples])
    close = np.flatnonzero(scores >= scores[best] - spread)
    chosen = close[np.argmin(np.abs(cuts[close] - prior))]
    return float(cuts[chosen]), float(scores[chosen])
