"""The explain signature's answer as its readers use it: the words, each with its share.

components/signatures.py's `explain` returns, per article, `tokens` (the words the model read,
in document order, '' after the last) and `attributions` (each word's share of the
probability: positive toward unreliable, negative toward reliable). The clients and the
evaluation report read them through here, so both rank words the same way. Plain Python: a
REST caller imports no TensorFlow.
"""

from __future__ import annotations

from typing import Sequence

# components/signature_names.py's names; a test ties them together.
EXPLAIN_SIGNATURE = "explain"
TOKENS, ATTRIBUTIONS = "tokens", "attributions"

WordShares = tuple[tuple[str, float], ...]


def word_shares(tokens: Sequence[str], attributions: Sequence[float]) -> WordShares:
    """One article's (word, share) in document order; the '' padding after its last word dropped."""
    return tuple((token, float(share)) for token, share in zip(tokens, attributions) if token)


def strongest(words: WordShares, count: int, toward_unreliable: bool) -> list[tuple[str, float]]:
    """The `count` words that pushed hardest one way, strongest first, each with its total
    over its occurrences: a word the article repeats pushes with all of them."""
    totals: dict[str, float] = {}
    for word, share in words:
        totals[word] = totals.get(word, 0.0) + share
    sign = 1.0 if toward_unreliable else -1.0
    pushing = [(word, total) for word, total in totals.items() if sign * total > 0]
    return sorted(pushing, key=lambda item: -sign * item[1])[:count]
