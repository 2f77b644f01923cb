"""The recency preference of "latest" questions: relevance decays with a passage's age
against `as_of`, halving every `half_life_days`.

Applied to the retrieval's fused (or reranked) candidate list before it is cut to top_k, so
a recent passage a little less relevant than an old one can overtake it. Scores of different
retrieval modes have different scales (a reranker's can be negative), so relevance is the
score min-max normalised within the list. An undated article's age is unknown: it is
treated as one half-life old (neither favoured nor buried)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Recency:
    as_of: datetime
    half_life_days: float


def decay(published_at: datetime | None, recency: Recency) -> float:
    """The factor a passage's relevance is multiplied by: 1 at `as_of`, 0.5 one half-life
    earlier. A passage dated after `as_of` counts as new (it should be filtered out anyway)."""
    if published_at is None:
        return 0.5
    age_days = max((recency.as_of - published_at).total_seconds() / 86_400, 0.0)
    return float(0.5 ** (age_days / recency.half_life_days))


def prefer_recent(
    ranked: list[tuple[int, float]],
    published: Mapping[int, datetime | None],
    recency: Recency,
) -> list[tuple[int, float]]:
    """`ranked` (chunk id, score; best first) re-ordered by decayed relevance; the new
    score is the decayed relevance in [0, 1]. Chunks missing from `published` are dropped."""
    known = [(chunk_id, score) for chunk_id, score in ranked if chunk_id in published]
    if not known:
        return []
    scores = [score for _, score in known]
    low, high = min(scores), max(scores)
    spread = high - low
    decayed = [
        (
            chunk_id,
            ((score - low) / spread if spread else 1.0) * decay(published[chunk_id], recency),
        )
        for chunk_id, score in known
    ]
    return sorted(decayed, key=lambda item: -item[1])
