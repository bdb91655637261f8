"""What the explain signature says about the eval split: the words that most often pushed
articles toward each class, and one article with its words coloured by their shares.

Each article's words are ranked as the clients rank them (serving.explanations: a word's
share summed over its occurrences); a word counts for an article when it is among that
article's PER_ARTICLE strongest one way. Pure Python: inputs.py runs the signature.
"""

from __future__ import annotations

import dataclasses
import html
from collections import Counter
from typing import Sequence

from components.report.metrics import CLASS_NAMES
from serving.explanations import WordShares, strongest

# Eval articles the report explains: all of them, or an evenly spaced sample of this many.
# An article costs about twenty network passes (integrated gradients' points), some 0.6 s for
# a 500-word one on a CPU core: the whole eval split of 5,200 Kaggle-length articles took
# 993 s, two thirds of that run (bench/bench_scale.py). A few hundred articles rank the words
# that most often push each way.
EXPLAINED_ARTICLES = 256
PER_ARTICLE = 5  # Strongest words of each article, each way, that count for the ranking.
LISTED = 15  # Words listed for each class.
# The figure's article: the eval article the model calls unreliable with the highest
# probability among those of at most this many words, so the figure can be read at a glance.
FIGURE_MAX_WORDS = 150


@dataclasses.dataclass(frozen=True)
class ExplainedArticle:
    probability: float
    label: int  # The served decision: 1 = unreliable.
    baseline_probability: float  # Where the shares start from: they add up to probability - this.
    words: WordShares


@dataclasses.dataclass(frozen=True)
class WordCount:
    word: str
    articles: int  # Eval articles where it was among the PER_ARTICLE strongest this way.
    mean_share: float  # Its mean total share in those articles.


@dataclasses.dataclass(frozen=True)
class Explanations:
    articles: int  # Eval articles explained (`sample`).
    toward: dict[str, tuple[WordCount, ...]]  # By class name (metrics.CLASS_NAMES), most often first.
    example: ExplainedArticle | None  # The figure's article; None when no article was read.


def sample(count: int, limit: int = EXPLAINED_ARTICLES) -> list[int]:
    """Which of `count` eval articles are explained: every one, or `limit` evenly spaced
    (the split's file order, so the same ones each time)."""
    if count <= limit:
        return list(range(count))
    return [index * count // limit for index in range(limit)]


def summarize(articles: Sequence[ExplainedArticle]) -> Explanations:
    toward = {}
    for name, toward_unreliable in ((CLASS_NAMES[1], True), (CLASS_NAMES[0], False)):
        counts: Counter[str] = Counter()
        shares: dict[str, float] = {}
        for article in articles:
            for word, share in strongest(article.words, PER_ARTICLE, toward_unreliable):
                counts[word] += 1
                shares[word] = shares.get(word, 0.0) + share
        # Most often first; among equals, the larger push, then the word, so the order is stable.
        ranked = sorted(counts, key=lambda word: (-counts[word], -abs(shares[word]), word))[:LISTED]
        toward[name] = tuple(WordCount(word, counts[word], shares[word] / counts[word]) for word in ranked)
    return Explanations(len(articles), toward, figure_article(articles))


def figure_article(articles: Sequence[ExplainedArticle]) -> ExplainedArticle | None:
    """The most confidently unreliable short article; without one, the most unreliable-looking
    short article; without short ones, the shortest article that has words."""
    with_words = [article for article in articles if article.words]
    short = [article for article in with_words if len(article.words) <= FIGURE_MAX_WORDS]
    flagged = [article for article in short if article.label == 1]
    for candidates in (flagged, short):
        if candidates:
            return max(candidates, key=lambda article: article.probability)
    return min(with_words, key=lambda article: len(article.words), default=None)


def _colour(share: float, largest: float) -> str:
    """Red toward unreliable, blue toward reliable, as strong as the share against the largest."""
    strength = abs(share) / largest if largest else 0.0
    red, green, blue = (214, 39, 40) if share > 0 else (31, 119, 180)
    return f"rgba({red}, {green}, {blue}, {0.85 * strength:.3f})"


def article_html(article: ExplainedArticle) -> str:
    """A standalone page: the article's words as the model read them, each coloured by its
    share, the value on hover."""
    largest = max((abs(share) for _, share in article.words), default=0.0)
    words = " ".join(
        f'<span style="background:{_colour(share, largest)}" title="{share:+.5f}">{html.escape(word)}</span>'
        for word, share in article.words)
    decision = CLASS_NAMES[article.label]
    total = sum(share for _, share in article.words)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Why the model called this article {decision}</title>
<style>body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; }}
p.words {{ line-height: 2; }} span {{ padding: 0.1em 0.15em; border-radius: 0.2em; }}</style></head>
<body>
<h1>Why the model called this article {decision}</h1>
<p>Probability {article.probability:.4f} (unreliable); {len(article.words)} words read. Each word as the cleaning
leaves it (lowercased, stopwords dropped, before stemming), coloured by its share of the probability:
<span style="background:{_colour(1, 1)}">toward unreliable</span>,
<span style="background:{_colour(-1, 1)}">toward reliable</span>; hover for the value. The shares add up to
{total:+.4f}, the probability minus {article.baseline_probability:.4f}, the model's answer with every word read
as padding.</p>
<p class="words">{words}</p>
</body></html>
"""
