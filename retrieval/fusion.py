"""Reciprocal rank fusion (Cormack, Clarke & Büttcher 2009): robust to the very different
scales of cosine similarity and BM25 scores, because it only looks at ranks."""

from __future__ import annotations

from collections.abc import Sequence


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
