"""Passages built from a text, for tests of the answer and checking stages that need no index."""

from __future__ import annotations

from typing import Any

from newsdesk.domain import Passage


def passage(text: str, **fields: Any) -> Passage:
    """A whole-text passage with a neutral score; ``fields`` override any default."""
    defaults: dict[str, Any] = {
        "chunk_id": 1,
        "article_id": "article-1",
        "title": "Article",
        "char_start": 0,
        "char_end": len(text),
        "score": 1.0,
        "dense_score": None,
        "lexical_score": None,
    }
    return Passage(text=text, **{**defaults, **fields})
