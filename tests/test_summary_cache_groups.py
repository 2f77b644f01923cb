"""A cached summary lists, per citation, the outlets that carried the story (`carried_by`) and
counts independent sources per sentence, both as the near-duplicate groups were when it was
cached: when a copy joins or leaves the group of an article it cites, or a member's outlet
changes, the cached summary is not served again. Real store, real pipeline, extractive."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput

from .support.stored import stored_article

# Both tests run on the article store on SQLite and on PostgreSQL.
pytestmark = [pytest.mark.both_stores, pytest.mark.vector_stores]

MECCA = "wikinews-2015-mecca-crane-collapse"
REQUEST = {"article_id": MECCA, "length": "short"}


def _outlets(summary: dict[str, Any]) -> set[str]:
    return {outlet for c in summary["citations"] for outlet in c["carried_by"]}


def _copy(desk: Newsdesk, outlet: str) -> ArticleInput:
    """The sample story as another outlet reprinted it: the wire copy with an edited lead."""
    mecca = stored_article(desk.store, MECCA)
    lead, rest = mecca.text.split("\n", 1)
    return ArticleInput(
        id=f"copy-{outlet.lower().replace(' ', '-')}",
        title=mecca.title,
        source=outlet,
        published_at="2015-09-14",
        text=f"MECCA (Wire) — {lead}\n{rest}",
    )


def test_a_copy_joining_or_leaving_the_group_invalidates_the_cached_summary(
    loaded_desk: Newsdesk, client: TestClient
) -> None:
    first = client.post("/summaries", json=REQUEST).json()
    assert client.post("/summaries", json=REQUEST).json()["cached"]
    assert "Reprint Daily" not in _outlets(first)

    copy = _copy(loaded_desk, "Reprint Daily")
    loaded_desk.ingestor.ingest([copy])
    article = stored_article(loaded_desk.store, MECCA)
    group = article.group
    assert group is not None and {m.id for m in group.members} == {MECCA, copy.id}

    joined = client.post("/summaries", json=REQUEST).json()
    assert not joined["cached"]
    assert "Reprint Daily" in _outlets(joined)
    assert client.post("/summaries", json=REQUEST).json()["cached"]

    # A member's outlet renamed (same text): the outlets listed change again.
    loaded_desk.ingestor.ingest([copy.model_copy(update={"source": "Reprint Weekly"})])
    renamed = client.post("/summaries", json=REQUEST).json()
    assert not renamed["cached"]
    assert "Reprint Weekly" in _outlets(renamed) and "Reprint Daily" not in _outlets(renamed)

    assert client.delete(f"/articles/{copy.id}").status_code in (200, 204)
    left = client.post("/summaries", json=REQUEST).json()
    assert not left["cached"]
    assert "Reprint Weekly" not in _outlets(left)
    assert left["summary"] == first["summary"]


def test_an_unrelated_article_leaves_the_cached_summary_alone(
    loaded_desk: Newsdesk, client: TestClient
) -> None:
    client.post("/summaries", json=REQUEST)
    loaded_desk.ingestor.ingest(
        [
            ArticleInput(
                id="unrelated",
                title="Local library extends opening hours",
                source="Town Gazette",
                text="The town library will open until nine in the evening from next week, "
                "the council said, after a survey of readers asked for longer hours.",
            )
        ]
    )
    assert client.post("/summaries", json=REQUEST).json()["cached"]
