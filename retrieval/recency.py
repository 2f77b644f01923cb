"""The recency preference of "latest" questions: relevance decays with a passage's age
against `as_of`, halving every `half_life_days`.

Applied to the retrieval's candidate list before it is cut to top_k, so a recent passage a
little less relevant than an old one can overtake it. Relevance must be on a fixed scale for
the product to mean anything (fused and reranker scores are not, and min-max normalising them
would zero the last candidate whatever its date), so it is the passage's cosine similarity to
the query, or in lexical mode (no query vector) the BM25 score over the best one. An undated
article's age is unknown: it is treated as one half-life old (neither favoured nor buried)."""

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
    relevance: Mapping[int, float],
    published: Mapping[int, datetime | None],
    recency: Recency,
) -> list[tuple[int, float]]:
    """Chunk ids by relevance (≥ 0, on a fixed scale) times decay, best first, with that
    product as their score. Chunks missing from `published` are dropped."""
    decayed = [
        (chunk_id, max(score, 0.0) * decay(published[chunk_id], recency))
        for chunk_id, score in relevance.items()
        if chunk_id in published
    ]
    return sorted(decayed, key=lambda item: -item[1])
