"""POST /timeline, `newsdesk timeline`, and `as_of` with `time_range` on /ask, /search,
/summaries and chat, over the sample articles (extractive backend, real embedding model)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.cli import run_newsdesk
from .support.samples import SAMPLES
from .support.stored import stored_article

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
]  # store-facing: each store kind

MECCA = "wikinews-2015-mecca-crane-collapse"
SHUTTLE = "wikinews-2011-nasa-shuttle-anniversary-retirement"


@pytest.fixture(scope="module")
def client(sample_desk: Newsdesk) -> Iterator[TestClient]:
    with TestClient(create_app(sample_desk.settings, desk=sample_desk)) as test_client:
        yield test_client


def _problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_a_timeline_is_cited_dated_sentences_in_date_order(
    client: TestClient, sample_desk: Newsdesk
) -> None:
    body = client.post("/timeline", json={"topic": "space shuttle missions"}).json()
    assert set(body) >= {"topic", "events", "abstained"}
    assert body["topic"] == "space shuttle missions" and not body["abstained"]
    events = body["events"]
    assert len(events) >= 3
    dates = [e["date"] for e in events]
    assert dates == sorted(dates)
    for event in events:
        assert set(event) >= {"date", "date_source", "text", "citations"}
        assert event["date_source"] in {"explicit", "relative", "publication"}
        assert event["citations"], event
        for citation in event["citations"]:
            article = stored_article(sample_desk.store, citation["article_id"])
            assert article.text[citation["char_start"] : citation["char_end"]] == citation["quote"]
            assert {"number", "quote", "source", "published_at", "title"} <= citation.keys()
        # extractive: the event is a sentence of the article it cites.
        cited = stored_article(sample_desk.store, event["citations"][0]["article_id"])
        assert " ".join(event["text"].split()) in " ".join(cited.text.split())
    by_text = {e["text"][:40]: e for e in events}
    launch = next(e for t, e in by_text.items() if t.startswith("On April 12, 1981"))
    assert (launch["date"], launch["date_source"]) == ("1981-04-12", "explicit")
    celebrated = next((e for t, e in by_text.items() if t.startswith("NASA celebrated")), None)
    if celebrated is not None:  # "Tuesday" in an article of Wednesday 2011-04-13
        assert (celebrated["date"], celebrated["date_source"]) == ("2011-04-12", "relative")


def test_relative_event_dates_differ_from_publication(client: TestClient) -> None:
    body = client.post("/timeline", json={"topic": "Mecca crane collapse"}).json()
    storm = next(e for e in body["events"] if e["text"].startswith("A storm yesterday"))
    # published 2015-09-12; "yesterday" is the day before.
    assert (storm["date"], storm["date_source"]) == ("2015-09-11", "relative")
    assert storm["citations"][0]["article_id"] == MECCA


def test_what_changed_since_returns_only_later_facts(client: TestClient) -> None:
    full = client.post("/timeline", json={"topic": "Ahmed Mohamed clock"}).json()
    assert any(e["date"] <= "2015-09-20" for e in full["events"])
    since = client.post(
        "/timeline", json={"topic": "what changed since September 20, 2015 on Ahmed Mohamed clock"}
    ).json()
    assert since["since"] == "2015-09-20"
    assert since["time_range"]["resolved_from"] == "since September 20, 2015"
    assert since["events"] and all(e["date"] > "2015-09-20" for e in since["events"])
    old_texts = {e["text"] for e in full["events"] if e["date"] <= "2015-09-20"}
    assert not old_texts & {e["text"] for e in since["events"]}


def test_a_timeline_abstains_when_nothing_is_relevant(client: TestClient) -> None:
    body = client.post("/timeline", json={"topic": "quantum chromodynamics lattice"}).json()
    assert body["abstained"] and body["events"] == [] and body["abstain_reason"]
    outside = client.post(
        "/timeline",
        json={"topic": "Mecca crane collapse", "filters": {"published_before": "2000-01-01"}},
    ).json()
    assert outside["abstained"] and outside["events"] == []


def test_ask_reports_the_time_range_it_resolved(client: TestClient) -> None:
    body = client.post(
        "/ask", json={"question": "What happened in Mecca yesterday?", "as_of": "2015-09-12"}
    ).json()
    assert body["time_range"] == {
        "published_after": "2015-09-11T00:00:00Z",
        "published_before": "2015-09-12T23:59:59.999999Z",
        "resolved_from": "yesterday",
    }
    assert not body["abstained"]
    assert {c["article_id"] for c in body["citations"]} == {MECCA}
    # A year later the same words name another day, when no article was published.
    later = client.post(
        "/ask", json={"question": "What happened in Mecca yesterday?", "as_of": "2016-09-12"}
    ).json()
    assert later["abstained"] and later["time_range"]["resolved_from"] == "yesterday"
    # No time words: no range; explicit filters win over the words.
    plain = client.post("/ask", json={"question": "How many died in the Mecca crane collapse?"})
    assert plain.json()["time_range"] is None
    explicit = client.post(
        "/ask",
        json={
            "question": "What happened in Mecca yesterday?",
            "as_of": "2016-09-12",
            "filters": {"published_after": "2015-01-01"},
        },
    ).json()
    assert explicit["time_range"] is None and not explicit["abstained"]


def test_search_and_summaries_take_as_of(client: TestClient) -> None:
    search = client.post(
        "/search", json={"query": "shuttle launches last month", "as_of": "2011-05-02"}
    ).json()
    assert search["time_range"]["resolved_from"] == "last month"
    assert search["results"] and {r["article_id"] for r in search["results"]} == {SHUTTLE}
    summary = client.post(
        "/summaries", json={"topic": "space shuttle news last month", "as_of": "2011-05-02"}
    ).json()
    assert summary["time_range"]["published_after"] == "2011-04-01T00:00:00Z"
    assert summary["articles"] == [SHUTTLE]


def test_chat_takes_as_of_and_filters_as_extension_fields(client: TestClient) -> None:
    body = client.post(
        "/v1/chat/completions",
        json={
            "messages": [{"role": "user", "content": "What happened in Mecca yesterday?"}],
            "as_of": "2015-09-12",
        },
    ).json()
    assert body["newsdesk"]["time_range"]["resolved_from"] == "yesterday"
    bad = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": "hi"}], "as_of": "last Tuesday"},
    )
    assert bad.status_code == 400 and "as_of" in json.dumps(bad.json())


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/ask", {"question": "What happened yesterday?"}),
        ("/search", {"query": "What happened yesterday?"}),
        ("/summaries", {"topic": "What happened yesterday?"}),
        ("/timeline", {"topic": "Mecca crane collapse"}),
    ],
)
@pytest.mark.parametrize("as_of", ["yesterday", "2015-13-45", "9999-12-31T23:59:59-14:00", 12])
def test_a_bad_as_of_is_a_4xx_problem(client: TestClient, path: str, body: dict, as_of) -> None:
    problem = _problem(client.post(path, json={**body, "as_of": as_of}), 422)
    assert "as_of" in json.dumps(problem)


def test_bad_timeline_requests_are_4xx_problems(client: TestClient) -> None:
    for body in (
        {"topic": "crane", "top_k": 0},
        {"topic": "crane", "top_k": 100_000},
        {"topic": "   "},
        {"topic": "crane", "filters": {"published_after": "soon"}},
        {"topic": "crane", "unknown": 1},
        {},
    ):
        _problem(client.post("/timeline", json=body), 422)


def test_summaries_of_articles_refuse_as_of(client: TestClient) -> None:
    problem = _problem(
        client.post("/summaries", json={"article_id": MECCA, "as_of": "2015-09-12"}), 422
    )
    assert "topic summaries only" in json.dumps(problem)


@pytest.mark.slow
def test_cli_timeline_json_is_the_endpoint_json(tmp_path: Path, embedder: Embedder) -> None:
    data = tmp_path / "data"
    assert run_newsdesk(data, "ingest", str(SAMPLES / "articles.jsonl")).returncode == 0
    cli = run_newsdesk(data, "timeline", "Mecca crane collapse", "--before", "2015-12-31", "--json")
    assert cli.returncode == 0, cli.stderr
    human = run_newsdesk(data, "timeline", "Mecca crane collapse", "--as-of", "2015-09-12")
    assert human.returncode == 0, human.stderr
    assert "2015-09-11 (relative) A storm yesterday" in human.stdout
    with (
        Newsdesk.open(Settings(data_dir=data, _env_file=None), embedder=embedder) as desk,
        TestClient(create_app(desk.settings, desk=desk)) as client,
    ):
        http = client.post(
            "/timeline",
            json={"topic": "Mecca crane collapse", "filters": {"published_before": "2015-12-31"}},
        ).json()
    cli_body = json.loads(cli.stdout)
    for body in (cli_body, http):
        body.pop("timings")
    assert cli_body == http
    bad = run_newsdesk(data, "timeline", "Mecca", "--as-of", "last week")
    assert bad.returncode != 0
    search = run_newsdesk(data, "search", "crane collapse yesterday", "--as-of", "2015-09-12")
    assert search.returncode == 0, search.stderr
    assert "published 2015-09-11 to 2015-09-12 (from 'yesterday')" in search.stderr
    assert "wikinews-2015-mecca-crane-collapse" in search.stdout


def test_latest_questions_prefer_recent_reports_when_configured(
    tmp_path: Path, embedder: Embedder
) -> None:
    from newsdesk.domain import ArticleInput

    story = (
        "Flooding closed the Riverside bridge in Hollowmere after the Ashby river burst its "
        "banks. Engineers said the bridge would stay shut while they checked its supports."
    )
    update = (
        "The Riverside bridge in Hollowmere reopened after engineers checked its supports. "
        "Traffic was moving again on Thursday."
    )
    articles = [
        ArticleInput(id="flood-1", title="Flood shuts bridge", text=story,
                     source="Hollowmere Post", published_at="2024-03-01"),
        ArticleInput(id="flood-2", title="Bridge reopens", text=update,
                     source="Valley News", published_at="2024-03-20"),
    ]  # fmt: skip
    as_of = "2024-03-21"
    question = "Riverside bridge flooding in Hollowmere"
    for half_life, latest_first in ((0.0, False), (7.0, True)):
        settings = Settings(
            data_dir=tmp_path / f"data-{half_life}",
            backend="extractive",
            recency_half_life_days=half_life,
            _env_file=None,
        )
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(articles)
            with TestClient(create_app(desk.settings, desk=desk)) as client:
                plain = client.post("/search", json={"query": question, "as_of": as_of}).json()
                latest = client.post(
                    "/search", json={"query": f"the latest on {question}", "as_of": as_of}
                ).json()
        # Without "latest" the order is relevance alone, whatever the setting.
        assert plain["results"][0]["article_id"] == "flood-1"
        assert latest["time_range"]["resolved_from"] == "the latest"
        first = latest["results"][0]["article_id"]
        assert (first == "flood-2") is latest_first, (half_life, latest["results"])
