"""Fusing the dense and the BM25 candidate lists into one ranking.

Two fusions:

- Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009) looks only at ranks, so it cannot
  tell a retriever that is confidently right (its best candidate far ahead of the rest) from
  one that is unsure (a flat list): both give their first candidate the same share.
- A convex combination of scores normalised per query, ``α·dense + (1 − α)·lexical`` (Bruch,
  Gai & Ingber 2023, "An analysis of fusion functions for hybrid retrieval"), keeps that margin.
  Both scales meet in [0, 1]: BM25 scores are divided by the query's best one (0 stays 0: BM25's
  own floor, a chunk without any query term, which is also where BM25 leaves the chunks it did
  not return); cosine has no such floor, so dense scores are min-max normalised over the dense
  candidates, and a chunk the dense search did not return counts 0 (it scored below the last).
  α is fitted on the shipped suites by ``bench/fit_fusion.py``, and may lean lexical for queries
  full of names and numbers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float], k: int = 60
) -> list[tuple[int, float]]:
    """Fuse ranked id lists: score(id) = Σ weight_i / (k + rank_i(id)), rank starting at 1.

    Returns (id, score) best first; ties keep the order in which ids were first seen.
    """
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def min_max(scores: Mapping[int, float]) -> dict[int, float]:
    """Scores mapped onto [0, 1] (best 1, worst 0); all equal: all 1 (nothing to tell apart)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    if high <= low:
        return dict.fromkeys(scores, 1.0)
    span = high - low
    return {item: (score - low) / span for item, score in scores.items()}


def max_scaled(scores: Mapping[int, float]) -> dict[int, float]:
    """Non-negative scores divided by the largest (best 1, 0 stays 0)."""
    high = max(scores.values(), default=0.0)
    if high <= 0:
        return dict.fromkeys(scores, 0.0)
    return {item: score / high for item, score in scores.items()}


def convex_fusion(
    dense: Mapping[int, float], lexical: Mapping[int, float], dense_share: float
) -> list[tuple[int, float]]:
    """score(id) = dense_share · dense'(id) + (1 − dense_share) · lexical'(id): dense' min-max
    normalised over the dense candidates, lexical' (BM25, ≥ 0) divided by its maximum, and a
    candidate missing from a retriever counts 0 there.

    Returns (id, score) best first; ties keep the order in which ids were first seen (dense
    candidates first). dense_share 1 (or 0) gives exactly the dense (or BM25) ranking followed by
    the other retriever's leftovers.
    """
    if not 0.0 <= dense_share <= 1.0:
        raise ValueError("dense_share must be between 0 and 1")
    dense_n, lexical_n = min_max(dense), max_scaled(lexical)
    scores: dict[int, float] = {}
    for item in (*dense_n, *lexical_n):
        if item not in scores:
            scores[item] = dense_share * dense_n.get(item, 0.0) + (1.0 - dense_share) * (
                lexical_n.get(item, 0.0)
            )
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


# A query token that BM25 matches exactly but an embedding blurs: a capitalised word that does
# not open the query (a name), or anything with a digit (a year, a count, a dose).
_WORD = re.compile(r"\w[\w'.-]*")


def specific_share(query: str) -> float:
    """Share of the query's words that are names or numbers, in [0, 1]."""
    words = _WORD.findall(query)
    if not words:
        return 0.0
    specific = sum(
        1
        for position, word in enumerate(words)
        if any(c.isdigit() for c in word) or (position > 0 and word[0].isupper())
    )
    return specific / len(words)


def query_dense_share(query: str, dense_share: float, lexical_shift: float) -> float:
    """The dense share for this query: ``dense_share − lexical_shift × specific_share(query)``,
    kept in [0, 1] — names and numbers move the weight towards BM25."""
    return min(1.0, max(0.0, dense_share - lexical_shift * specific_share(query)))
