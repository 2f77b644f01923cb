"""The HTTP API through FastAPI's test client, on real components."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from newsdesk.container import Newsdesk

# Every test runs on the article store on SQLite and on PostgreSQL (and with lexical search in
# PostgreSQL too: lexical_store=postgres).
pytestmark = [pytest.mark.both_stores, pytest.mark.lexical_stores, pytest.mark.vector_stores]

PROBLEM = "application/problem+json"

HTML_PAGE = """<!doctype html><html><head><title>Flood hits river town | Daily Example</title>
<meta property="og:site_name" content="Daily Example"></head><body>
<nav><a href="/">Home</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>
<article><h1>Flood hits river town</h1>
<p>Heavy rain caused the river Aire to burst its banks on Monday, flooding two hundred homes in the town centre.</p>
<p>Emergency services evacuated residents from the lowest streets overnight, and the council opened three rest centres.</p>
<p>Forecasters expect the water level to fall slowly over the coming week as the rain eases.</p>
</article>
<footer>Subscribe to our newsletter. Cookie settings. Copyright Daily Example.</footer>
</body></html>"""


def _problem(response) -> dict:
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    body = response.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == response.status_code
    return body


def test_post_one_article_then_read_it_back(client: TestClient) -> None:
    article = {
        "id": "flood-1",
        "title": "Flood hits river town",
        "text": "Heavy rain caused the river to burst its banks.\n\nTwo hundred homes were flooded.",
        "url": "https://example.org/flood",
        "source": "Example",
        "published_at": "2024-02-03",
        "metadata": {"section": "uk"},
    }
    response = client.post("/articles", json=article)
    assert response.status_code == 200, response.text
    assert response.json()["added"] == ["flood-1"] and response.json()["chunks"] == 1

    stored = client.get("/articles/flood-1").json()
    assert stored["published_at"].startswith("2024-02-03T00:00:00")
    assert stored["metadata"] == {"section": "uk"}
    for chunk in stored["chunks"]:
        assert stored["text"][chunk["char_start"] : chunk["char_end"]] == chunk["text"]

    again = client.post("/articles", json=article).json()
    assert again["unchanged"] == ["flood-1"] and again["chunks"] == 0


def test_batch_search_list_and_delete(client: TestClient, samples) -> None:
    batch = [json.loads(a.model_dump_json()) for a in samples]
    report = client.post("/articles", json=batch).json()
    assert len(report["added"]) == len(samples)

    found = client.post("/search", json={"query": "crane collapse at the Grand Mosque", "top_k": 3})
    assert found.status_code == 200
    results = found.json()["results"]
    assert len(results) == 3
    assert results[0]["article_id"] == "wikinews-2015-mecca-crane-collapse"
    assert {
        "chunk_id",
        "article_id",
        "title",
        "text",
        "char_start",
        "char_end",
        "score",
        "dense_score",
        "lexical_score",
    } <= results[0].keys()

    filtered = client.post(
        "/search",
        json={"query": "crane collapse", "filters": {"published_before": "2010-01-01"}, "top_k": 5},
    ).json()["results"]
    assert filtered and all(r["published_at"] < "2010-01-01" for r in filtered)

    page = client.get("/articles", params={"limit": 5, "offset": 5}).json()
    assert page["total"] == len(samples) and len(page["items"]) == 5
    dates = [item["published_at"] for item in page["items"]]
    assert dates == sorted(dates, reverse=True)
    recent = client.get("/articles", params={"published_after": "2020-01-01T00:00:00Z"}).json()
    assert recent["items"] and all(i["published_at"] >= "2020" for i in recent["items"])
    wikinews = client.get("/articles", params={"source": "Wikinews"}).json()
    assert wikinews["total"] == len(samples) - 1

    assert client.delete("/articles/wikinews-2015-mecca-crane-collapse").status_code == 204
    again = client.post(
        "/search", json={"query": "crane collapse at the Grand Mosque", "top_k": 10}
    )
    assert "wikinews-2015-mecca-crane-collapse" not in {
        r["article_id"] for r in again.json()["results"]
    }
    assert _problem(client.get("/articles/wikinews-2015-mecca-crane-collapse"))["status"] == 404
    assert _problem(client.delete("/articles/wikinews-2015-mecca-crane-collapse"))["status"] == 404


def test_upload_files_of_every_kind(client: TestClient) -> None:
    files = [
        ("files", ("river-flood.html", HTML_PAGE.encode(), "text/html")),
        (
            "files",
            (
                "council-vote.txt",
                b"Council approves new bridge\n\nThe council voted 7 to 2 for the bridge.",
                "text/plain",
            ),
        ),
        (
            "files",
            (
                "market.md",
                b"---\ntitle: Markets rally\nsource: Example Wire\npublished_at: 2024-05-01\n---\nShares rose sharply on Friday.",
                "text/markdown",
            ),
        ),
        (
            "files",
            (
                "batch.jsonl",
                b'{"id": "j1", "title": "One", "text": "First story text."}\n{"id": "j2", "title": "Two", "text": "Second story text."}\n',
                "application/x-ndjson",
            ),
        ),
        (
            "files",
            (
                "single.json",
                b'{"id": "j3", "title": "Three", "text": "Third story text."}',
                "application/json",
            ),
        ),
    ]
    report = client.post("/articles/upload", files=files).json()
    assert sorted(report["added"]) == ["council-vote", "j1", "j2", "j3", "market", "river-flood"]

    html = client.get("/articles/river-flood").json()
    assert "Flood hits river town" in html["title"]
    assert "burst its banks" in html["text"]
    for boilerplate in ("Subscribe", "Cookie", "Home", "Sport"):
        assert boilerplate not in html["text"]
    md = client.get("/articles/market").json()
    assert md["title"] == "Markets rally" and md["source"] == "Example Wire"
    assert md["published_at"].startswith("2024-05-01")
    assert client.get("/articles/council-vote").json()["title"] == "Council approves new bridge"


def test_bad_input_gets_a_problem_and_leaves_the_index_untouched(
    client: TestClient, desk: Newsdesk
) -> None:
    client.post("/articles", json={"id": "keep", "title": "Kept", "text": "A story that stays."})
    generation = desk.store.generation()

    empty = client.post("/articles", json={"id": "empty", "title": "Empty", "text": "   "})
    assert empty.status_code == 422
    assert _problem(empty)["rejected"][0]["reason"] == "text is empty"

    malformed = client.post(
        "/articles", content=b'{"id": "x", "text": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 422 and _problem(malformed)

    bad_id = client.post("/articles", json={"id": "no/slashes", "text": "x"})
    assert bad_id.status_code == 422 and "id" in _problem(bad_id)["detail"]

    binary = client.post(
        "/articles/upload",
        files=[("files", ("latin1.txt", "Café news".encode("latin-1"), "text/plain"))],
    )
    assert binary.status_code == 422
    assert "not UTF-8" in _problem(binary)["detail"]

    huge_k = client.post("/search", json={"query": "story", "top_k": 10**6})
    assert huge_k.status_code == 422 and "top_k" in _problem(huge_k)["detail"]

    assert _problem(client.post("/search", json={"query": ""})).get("errors")
    assert _problem(
        client.post("/search", json={"query": "x", "filters": {"published_after": "yesterday"}})
    )

    assert desk.store.generation() == generation
    assert desk.store.article_count() == 1


def test_partial_batch_reports_rejections(client: TestClient) -> None:
    response = client.post(
        "/articles",
        json=[
            {"id": "good", "title": "Good", "text": "A fine story."},
            {"id": "blank", "title": "Blank", "text": ""},
        ],
    )
    assert response.status_code == 200
    body = response.json()
    assert body["added"] == ["good"] and [r["id"] for r in body["rejected"]] == ["blank"]


def test_openapi_and_health(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/articles", "/articles/upload", "/articles/{article_id}", "/search", "/health"):
        assert path in schema["paths"]
    assert client.get("/docs").status_code == 200
    health = client.get("/health").json()
    # The model id names the model and, for a backend other than torch, how it runs.
    assert health["status"] == "ok" and health["embedding_model"].startswith("all-MiniLM-L6-v2")
