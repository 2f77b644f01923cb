"""Collapse near-duplicates in a ranking: of each duplicate group only the passages of its
best-ranked article stay, so five copies of one wire story take one article's places in the
top k, not five. A unique article (a group of one) keeps all its passages."""

from __future__ import annotations

from collections.abc import Mapping


def collapse_copies(
    ranked: list[tuple[int, float]], origins: Mapping[int, tuple[str, int | None]]
) -> list[tuple[int, float]]:
    """``ranked``: (chunk id, score), best first; ``origins``: chunk id → (article id, group
    id). Chunks of unknown origin (deleted meanwhile) are kept: hydration drops them."""
    chosen: dict[int, str] = {}  # group → the article that represents it
    kept: list[tuple[int, float]] = []
    for chunk_id, score in ranked:
        article, group = origins.get(chunk_id, ("", None))
        if group is not None and chosen.setdefault(group, article) != article:
            continue
        kept.append((chunk_id, score))
    return kept
