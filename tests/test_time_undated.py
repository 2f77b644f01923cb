"""Time words in a question keep undated articles; a request's own date filters do not
(docs/answers.md, "Time"). Real stores (every store kind), real model, extractive backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput, SearchFilters
from retrieval.time_scope import time_scope

pytestmark = [pytest.mark.both_stores, pytest.mark.lexical_stores, pytest.mark.vector_stores]

UNDATED = "kettle-point-lighthouse-undated"
IN_RANGE = "kettle-point-ferry-2023"
OUTSIDE = "kettle-point-lighthouse-2019"
AS_OF = "2024-06-01"
QUESTION = "How much did the Harbour Council spend on the Kettle Point lighthouse last year?"

ARTICLES = [
    ArticleInput(
        id=UNDATED,
        title="Kettle Point lighthouse shines again",
        text="The Harbour Council spent 2.4 million pounds restoring the Kettle Point "
        "lighthouse, which had been dark for a decade. Engineers fitted new lamps and "
        "repaired the tower's copper dome. Fishing crews welcomed the light's return.",
        source="Coast Courier",
    ),
    ArticleInput(
        id=IN_RANGE,
        title="Kettle Point ferry timetable changes",
        text="The Harbour Council changed the Kettle Point ferry timetable, adding two "
        "evening crossings for commuters. The lighthouse keepers' cottage now serves as the "
        "ferry office.",
        source="Coast Courier",
        published_at="2023-08-14T09:00:00Z",
    ),
    ArticleInput(
        id=OUTSIDE,
        title="Kettle Point lighthouse goes dark",
        text="The Harbour Council switched off the Kettle Point lighthouse after its lamps "
        "failed, saying a restoration would cost 3 million pounds it did not have.",
        source="Coast Courier",
        published_at="2019-03-02T09:00:00Z",
    ),
]


@pytest.fixture(scope="module")
def client(sample_desk: Newsdesk) -> Iterator[TestClient]:
    sample_desk.ingestor.ingest(ARTICLES)
    with TestClient(create_app(sample_desk.settings, desk=sample_desk)) as test_client:
        yield test_client


def _cited(body: dict) -> set[str]:
    return {c["article_id"] for c in body["citations"]}


def test_time_words_keep_an_undated_article(client: TestClient) -> None:
    body = client.post("/ask", json={"question": QUESTION, "as_of": AS_OF}).json()
    assert body["time_range"]["resolved_from"] == "last year"
    assert not body["abstained"], body
    assert UNDATED in _cited(body)
    assert "2.4 million" in body["answer"]
    found = client.post(
        "/search", json={"query": "Kettle Point lighthouse last year", "as_of": AS_OF}
    ).json()
    ids = {r["article_id"] for r in found["results"]}
    # The undated article and the one inside the range; never the dated one outside it.
    assert {UNDATED, IN_RANGE} <= ids and OUTSIDE not in ids


def test_a_request_date_filter_still_excludes_undated_articles(client: TestClient) -> None:
    explicit = {"published_after": "2023-01-01", "published_before": "2023-12-31"}
    body = client.post(
        "/ask", json={"question": QUESTION, "as_of": AS_OF, "filters": explicit}
    ).json()
    assert body["time_range"] is None
    assert UNDATED not in _cited(body) and OUTSIDE not in _cited(body)
    found = client.post(
        "/search", json={"query": "Kettle Point lighthouse", "filters": explicit}
    ).json()
    ours = {r["article_id"] for r in found["results"]} & {UNDATED, IN_RANGE, OUTSIDE}
    assert ours == {IN_RANGE}


def test_the_store_keeps_undated_articles_only_when_told(sample_desk: Newsdesk) -> None:
    sample_desk.ingestor.ingest(ARTICLES)  # idempotent: the module's client has them already
    bounds = SearchFilters(published_after="2023-01-01", published_before="2023-12-31")
    scoped = time_scope(QUESTION, None, datetime(2024, 6, 1, tzinfo=UTC), 30.0).filters
    assert scoped.include_undated and not bounds.include_undated

    def articles(filters: SearchFilters) -> set[str]:
        ids = sample_desk.store.chunk_ids_matching(filters)
        return {row.article_id for row in sample_desk.store.passages(ids.tolist()).values()}

    assert articles(bounds) & {UNDATED, IN_RANGE, OUTSIDE} == {IN_RANGE}
    kept = articles(bounds.model_copy(update={"include_undated": True}))
    assert kept & {UNDATED, IN_RANGE, OUTSIDE} == {UNDATED, IN_RANGE}
    # A request that sets its own bounds keeps them, and they keep excluding undated ones.
    assert time_scope(QUESTION, bounds, None, 30.0).filters == bounds


def test_the_time_words_are_not_asked_of_the_story() -> None:
    """The filter answers a question's time words; the story need not say "last year"."""
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    scope = time_scope(QUESTION, None, as_of, 30.0)
    assert scope.content_question(QUESTION) == (
        "How much did the Harbour Council spend on the Kettle Point lighthouse?"
    )
    latest = time_scope("What is the latest news from Brecon since  March?", None, as_of, 30.0)
    assert latest.content_question("What is the latest news from Brecon since  March?") == (
        "What is news from Brecon?"
    )
    # A caller's own bounds win over the words, which still are not asked of the story.
    bounds = SearchFilters(published_after="2023-01-01")
    assert (
        time_scope(QUESTION, bounds, as_of, 30.0).content_question(QUESTION).endswith("lighthouse?")
    )
    # Words that are not time words stay ("March" needs a preposition or a year).
    plain = "Who led the March on Washington?"
    assert time_scope(plain, None, as_of, 30.0).content_question(plain) == plain
