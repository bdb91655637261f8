"""The explain signature's acceptance measures, shared by its tests and bench/bench_explain.py:
the deletion test of faithfulness, and completeness.

Deletion test: for an article the model calls unreliable, delete the DELETED words with the largest
attribution toward unreliable, and separately DELETED words drawn at random from the same
article; faithful attributions lower the probability more with their own choice. A word is
deleted from what the model read: the article is sent again as the words that remain, joined
by spaces, which the cleaning reads back as exactly those words (they are already lowercase
letters and not stopwords), so a truncated article stays the part the model read.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import numpy as np

DELETED = 5
RANDOM_DRAWS = 10  # Random deletions per article; each is one comparison.
FAITHFUL = 0.8  # The share of comparisons the top words' deletion must win.

# Completeness: the shares add up to probability - baseline probability within 5 % of that
# change. Where the change is below MATERIAL_CHANGE (the path rose and fell back, say), a
# relative error says little, and the bound is 5 % of MATERIAL_CHANGE in probability.
COMPLETENESS = 0.05
MATERIAL_CHANGE = 0.01

# (texts, the index in `run`'s articles of the article each text was cut from) -> the
# probability of each; a model with a style part scores a text with its article's style.
Score = Callable[[list[str], list[int]], np.ndarray]


@dataclasses.dataclass(frozen=True)
class Explained:
    probability: float  # As served, for the whole article.
    words: tuple[str, ...]  # The words the model read, in order (the explain signature's tokens).
    attributions: tuple[float, ...]  # Each word's.


@dataclasses.dataclass(frozen=True)
class Deletions:
    """One article's outcome: how far each deletion lowered the probability."""

    full: float  # Probability of the words joined again: equals the article's.
    top_drop: float
    random_drops: tuple[float, ...]


def without(words: Sequence[str], positions: Sequence[int]) -> str:
    dropped = set(positions)
    return " ".join(word for index, word in enumerate(words) if index not in dropped)


def run(articles: Sequence[Explained], score: Score, seed: int = 0, batch: int = 64) -> list[Deletions]:
    """Deletes each article's top and random words; articles need more than DELETED words."""
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for article in articles:
        if len(article.words) <= DELETED:
            raise ValueError(f"an article of {len(article.words)} words has nothing left to compare")
        top = np.argsort(-np.asarray(article.attributions), kind="stable")[:DELETED]
        texts.append(without(article.words, []))
        texts.append(without(article.words, top))
        texts.extend(without(article.words, rng.choice(len(article.words), DELETED, replace=False))
                     for _ in range(RANDOM_DRAWS))
    owners = [index for index in range(len(articles)) for _ in range(2 + RANDOM_DRAWS)]
    probabilities = np.concatenate([score(texts[start:start + batch], owners[start:start + batch])
                                    for start in range(0, len(texts), batch)])
    per_article = probabilities.reshape(len(articles), 2 + RANDOM_DRAWS)
    return [Deletions(float(row[0]), float(row[0] - row[1]), tuple(float(row[0] - p) for p in row[2:]))
            for row in per_article]


def top_beats_random(outcomes: Sequence[Deletions]) -> float:
    """The share of (article, random draw) pairs where the top words' deletion lowered the
    probability more: the chance that it beats one random deletion of the same article."""
    wins = [outcome.top_drop > drop for outcome in outcomes for drop in outcome.random_drops]
    return float(np.mean(wins))


def completeness_errors(probability: np.ndarray, baseline: np.ndarray,
                        totals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(relative errors where the change is material, absolute errors where it is not).

    totals: each article's sum of attributions."""
    change = np.asarray(probability) - np.asarray(baseline)
    missed = np.abs(np.asarray(totals) - change)
    material = np.abs(change) >= MATERIAL_CHANGE
    return missed[material] / np.abs(change[material]), missed[~material]


def complete(probability: np.ndarray, baseline: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Per article: whether its shares add up to its change within the bounds above."""
    change = np.asarray(probability) - np.asarray(baseline)
    missed = np.abs(np.asarray(totals) - change)
    return missed <= COMPLETENESS * np.maximum(np.abs(change), MATERIAL_CHANGE)
