"""The decision threshold chosen on the validation slice, for F1 of the fake class or accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score

from components import decision_threshold
from components.hyperparameters import hyperparameters_for

SCORERS = {"f1": f1_score, "accuracy": accuracy_score}


@pytest.mark.parametrize("metric", decision_threshold.METRICS)
def test_the_threshold_search_finds_the_best_cut(metric):
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 400)
    probabilities = np.clip(labels * 0.3 + rng.normal(0.4, 0.2, 400), 0, 1).round(2)  # Ties too.
    threshold, score = decision_threshold.best_threshold(labels, probabilities, metric)
    scorer = SCORERS[metric]
    assert score == pytest.approx(scorer(labels, probabilities >= threshold))
    assert score == pytest.approx(max(scorer(labels, probabilities >= cut) for cut in np.unique(probabilities)))
    assert decision_threshold.score_at(labels, probabilities, threshold, metric) == pytest.approx(score)


@pytest.mark.parametrize("metric", decision_threshold.METRICS)
def test_the_chosen_threshold_is_the_best_unless_the_slice_cannot_tell(metric):
    rng = np.random.default_rng(8)
    labels = rng.integers(0, 2, 2000)
    # Well separated: the score is flat between the classes, and the cut nearest 0.5 is taken.
    flat = np.where(labels == 1, rng.uniform(0.7, 1.0, 2000), rng.uniform(0.0, 0.3, 2000))
    assert decision_threshold.choose_threshold(labels, flat, metric) == (0.5, 1.0)
    # A clear optimum far from 0.5 is kept.
    shifted = np.clip(labels * 0.15 + rng.normal(0.1, 0.03, 2000), 0, 1)
    threshold, score = decision_threshold.choose_threshold(labels, shifted, metric)
    best, best_score = decision_threshold.best_threshold(labels, shifted, metric)
    assert threshold < 0.3 and abs(threshold - best) < 0.05 and score >= best_score - 0.02
    assert score == pytest.approx(SCORERS[metric](labels, shifted >= threshold))


def test_accuracy_and_f1_choose_differently_when_the_fake_class_is_the_minority():
    # A third fake, overlapping scores: F1 of the minority pays for recall with false alarms,
    # accuracy does not, so its cut is the higher one.
    rng = np.random.default_rng(3)
    labels = (rng.uniform(size=3000) < 1 / 3).astype(int)
    probabilities = np.clip(0.35 + 0.2 * labels + rng.normal(0, 0.15, 3000), 0, 1)
    f1_cut, _ = decision_threshold.choose_threshold(labels, probabilities, "f1")
    accuracy_cut, accuracy = decision_threshold.choose_threshold(labels, probabilities, "accuracy")
    assert accuracy_cut > f1_cut
    assert accuracy > accuracy_score(labels, probabilities >= f1_cut)


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="threshold metric must be one of f1, accuracy, got 'auc'"):
        decision_threshold.best_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "auc")
    with pytest.raises(ValueError, match="threshold_metric must be one of f1, accuracy"):
        hyperparameters_for("linear", threshold_metric="auc")


def test_class_weights_move_accuracys_natural_cut_to_the_share_of_label_0():
    # Calibrated probabilities of data with 44 % fakes, then trained-with-weights ones: the
    # weighted odds are the true odds times w1 / w0. Accuracy's best cut of the weighted
    # probability is where the true one is 1/2.
    rng = np.random.default_rng(11)
    true = rng.beta(2, 2.5, 200_000)
    labels = (rng.uniform(size=true.size) < true).astype(int)
    weights = {0: labels.size / (2 * np.sum(labels == 0)), 1: labels.size / (2 * np.sum(labels == 1))}
    odds = true / (1 - true) * weights[1] / weights[0]
    weighted = odds / (1 + odds)
    cut = decision_threshold.natural_cut("accuracy", weights)
    assert cut == pytest.approx(np.mean(labels == 0))
    best, _ = decision_threshold.best_threshold(labels, weighted, "accuracy")
    assert abs(best - cut) < 0.01
    assert decision_threshold.natural_cut("f1", weights) == decision_threshold.NOTEBOOK_THRESHOLD
    assert decision_threshold.natural_cut("accuracy", None) == decision_threshold.NOTEBOOK_THRESHOLD
