"""Observability (issue 12 §7): a request id on every response and every log line of the
request, Prometheus metrics at /metrics counted by route template, and no key, article text
or question in the logs of a real `newsdesk serve`."""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .misbehaving_server import misbehaving_server
from .support.cli import NEWSDESK, newsdesk_serve
from .support.live_server import serve
from .support.patience import PATIENCE_S
from .support.samples import load_samples

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
]  # store-facing: each store kind

KEY = "observability-key-0123456789-abcdefghij"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"
HEX_ID = re.compile(r"[0-9a-f]{32}")


# --- helpers ---------------------------------------------------------------------------------


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape, keyed by name and sorted labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _requests(samples: dict, method: str, route: str, status: int) -> float:
    return _value(
        samples, "newsdesk_http_requests_total", method=method, route=route, status=str(status)
    )


def _settings(directory: Path, **changes: object) -> Settings:
    options: dict = {"backend": "extractive", **changes}
    return Settings(data_dir=directory, _env_file=None, **options)


@pytest.fixture
def locked_app(tmp_path: Path, embedder: Embedder) -> Iterator[FastAPI]:
    settings = _settings(tmp_path / "locked", api_keys=[KEY])
    with Newsdesk.open(settings, embedder=embedder) as desk:
        yield create_app(settings, desk=desk)


# --- request ids -----------------------------------------------------------------------------


def test_every_response_carries_a_request_id(loaded_desk: Newsdesk, locked_app: FastAPI) -> None:
    with TestClient(create_app(loaded_desk.settings, desk=loaded_desk)) as client:
        ok = client.get("/health")
        missing = client.get("/no/such/path")
        invalid = client.post("/search", json={"query": ""})
        with client.stream("POST", "/ask", json={"question": "crane", "stream": True}) as sse:
            streamed_id = sse.headers.get("x-request-id")
            assert sse.status_code == 200 and "text/event-stream" in sse.headers["content-type"]
            assert "event: answer" in sse.read().decode()
    with TestClient(locked_app) as client:
        refused = client.get("/articles")
    for response in (ok, missing, invalid, refused):
        assert HEX_ID.fullmatch(response.headers.get("x-request-id", "")), response
    assert streamed_id is not None and HEX_ID.fullmatch(streamed_id)
    # Problem documents name it too, so a caller can quote it.
    for problem, status in ((missing, 404), (invalid, 422), (refused, 401)):
        assert problem.status_code == status
        assert problem.json()["request_id"] == problem.headers["x-request-id"]
    ids = {r.headers["x-request-id"] for r in (ok, missing, invalid, refused)} | {streamed_id}
    assert len(ids) == 5


def test_a_well_formed_incoming_request_id_is_kept_others_are_replaced(
    client: TestClient,
) -> None:
    kept = client.get("/health", headers={"X-Request-ID": "trace-4f2a:9.b_c"})
    assert kept.headers["x-request-id"] == "trace-4f2a:9.b_c"
    for offered in ("a" * 129, "has spaces", "semi;colon", "new\\nline"):
        replaced = client.get("/health", headers={"X-Request-ID": offered})
        assert HEX_ID.fullmatch(replaced.headers["x-request-id"]), offered


def test_an_unhandled_error_is_a_500_problem_with_the_request_id(desk: Newsdesk) -> None:
    app = create_app(desk.settings, desk=desk)

    def broken() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken", headers={"X-Request-ID": "bug-report-1"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "bug-report-1"
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["request_id"] == "bug-report-1" and "a bug" not in json.dumps(problem)


# --- metrics ---------------------------------------------------------------------------------


def test_metrics_count_requests_by_route_template_ingestion_and_index_size(
    desk: Newsdesk,
) -> None:
    with (
        serve(create_app(desk.settings, desk=desk)) as url,
        httpx.Client(base_url=url, timeout=PATIENCE_S) as http,
    ):
        before = _samples(http.get("/metrics").text)
        articles = [
            {"id": f"obs-{n}", "title": f"Report {n}", "text": f"Harbour cranes, report {n}."}
            for n in range(3)
        ]
        assert http.post("/articles", json=articles).status_code == 200
        assert http.post("/articles", json=articles[:1]).status_code == 200  # unchanged
        searches = 4
        for _ in range(searches):
            assert http.post("/search", json={"query": "harbour cranes"}).status_code == 200
        assert http.post("/search", json={"query": ""}).status_code == 422
        stray = [f"/articles/raw-id-{uuid.uuid4().hex[:8]}" for _ in range(3)]
        for path in stray:
            assert http.get(path).status_code == 404
        assert http.get("/not-a-route-at-all").status_code == 404
        with http.stream("POST", "/ask", json={"question": "cranes?", "stream": True}) as sse:
            sse.read()
        text = http.get("/metrics").text
    after = _samples(text)

    def moved(method: str, route: str, status: int) -> float:
        return _requests(after, method, route, status) - _requests(before, method, route, status)

    assert moved("POST", "/search", 200) == searches
    assert moved("POST", "/search", 422) == 1
    assert moved("POST", "/articles", 200) == 2
    assert moved("GET", "/articles/{article_id}", 404) == len(stray)
    assert moved("GET", "unmatched", 404) == 1
    assert moved("POST", "/ask", 200) == 1
    duration = "newsdesk_http_request_duration_seconds_count"
    assert _value(after, duration, method="POST", route="/search", status="200") >= searches
    # Raw paths never become labels (an attacker could grow them without bound).
    for path in [*stray, "/not-a-route-at-all"]:
        assert path not in text
    ingested = "newsdesk_ingest_articles_total"
    assert _value(after, ingested, outcome="added") - _value(before, ingested, outcome="added") == 3
    assert _value(after, ingested, outcome="unchanged") == 1
    assert _value(after, "newsdesk_ingest_chunks_total") >= 3
    assert _value(after, "newsdesk_articles") == 3
    assert _value(after, "newsdesk_index_vectors") == _value(after, "newsdesk_chunks") >= 3
    assert _value(after, "newsdesk_llm_state", state="none") == 1
    # The reference in docs/operations.md lists every metric the service exports.
    reference = DOCS.read_text(encoding="utf-8")
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):  # the client's start times of counters
            continue
        name = family.name + ("_total" if family.type == "counter" else "")
        name = name if family.type != "info" else family.name + "_info"
        assert f"| `{name}` |" in reference, name
    # Opened without a snapshot: one full rebuild (of both indexes) before the app started.
    assert _value(after, "newsdesk_index_rebuilds_total", kind="full") == 1
    assert _value(after, "newsdesk_index_rebuild_duration_seconds_count", kind="full") == 1
    lexical = _value(after, "newsdesk_index_lexical_base_chunks")
    assert lexical + _value(after, "newsdesk_index_lexical_pending") >= 3


def test_background_bm25_rebuilds_are_counted(desk: Newsdesk) -> None:
    desk.ingestor.ingest(load_samples()[:2])
    app = create_app(desk.settings, desk=desk)
    with TestClient(app) as client:
        before = _samples(client.get("/metrics").text)
        assert _value(before, "newsdesk_index_lexical_pending") > 0
        desk.indexes.request_lexical_rebuild()
        deadline = time.monotonic() + PATIENCE_S
        while desk.indexes.lexical_rebuilds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _samples(client.get("/metrics").text)
    assert _value(after, "newsdesk_index_rebuilds_total", kind="lexical") == 1
    assert _value(after, "newsdesk_index_lexical_pending") == 0
    assert _value(after, "newsdesk_index_lexical_base_chunks") == desk.store.chunk_count()


def test_metrics_need_a_key_when_keys_are_configured(locked_app: FastAPI) -> None:
    with TestClient(locked_app) as client:
        assert client.get("/metrics").status_code == 401
        scraped = client.get("/metrics", headers={"Authorization": f"Bearer {KEY}"})
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert "newsdesk_http_requests_total" in scraped.text


def test_metrics_open_serves_them_without_a_key_to_known_hosts_only(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = _settings(tmp_path / "open", api_keys=[KEY], metrics_open=True)
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        TestClient(create_app(settings, desk=desk)) as client,
    ):
        open_scrape = client.get("/metrics")
        still_locked = client.get("/articles")
        other_host = client.get("/metrics", headers={"Host": "attacker.example"})
    assert open_scrape.status_code == 200 and "newsdesk_articles" in open_scrape.text
    assert HEX_ID.fullmatch(open_scrape.headers["x-request-id"])
    assert open_scrape.headers["x-content-type-options"] == "nosniff"
    assert still_locked.status_code == 401
    assert other_host.status_code == 400


def test_llm_calls_failures_and_refusals_are_counted(tmp_path: Path, embedder: Embedder) -> None:
    """An LLM that answers 500: the first call fails (`error`) and opens the circuit (one
    failure is enough here); the next is refused without reaching it (`unavailable`)."""
    with misbehaving_server("error500") as (llm_url, received):
        settings = _settings(
            tmp_path / "llm",
            backend="openai",
            openai_base_url=llm_url,
            llm_max_retries=0,
            llm_breaker_failures=1,
            llm_breaker_cooldown_seconds=PATIENCE_S * 10,
        )
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(load_samples()[:2])
            with TestClient(create_app(settings, desk=desk)) as client:
                question = load_samples()[0].title
                answers = [client.post("/ask", json={"question": question}).json() for _ in "12"]
                scraped = _samples(client.get("/metrics").text)
        reached = received.value
    assert all(answer["degraded"] for answer in answers)

    def calls(outcome: str) -> float:
        return sum(
            _value(scraped, "newsdesk_llm_calls_total", call=call, outcome=outcome)
            for call in ("complete", "stream")
        )

    assert calls("error") == reached == 1
    assert calls("unavailable") >= 1
    assert calls("ok") == 0
    timed = _value(scraped, "newsdesk_llm_call_duration_seconds_count", call="complete")
    timed += _value(scraped, "newsdesk_llm_call_duration_seconds_count", call="stream")
    assert timed == calls("error") + calls("unavailable")
    assert _value(scraped, "newsdesk_llm_state", state="open circuit") == 1


# --- logs of a real `newsdesk serve` ---------------------------------------------------------


def test_serve_logs_json_lines_with_the_request_id_and_no_secrets(tmp_path: Path) -> None:
    """The real process, keys on, debug level, an LLM that fails (so a warning is logged from
    the thread pool while /ask is served): every line is JSON, the lines of a request carry its
    id, and neither the key, the article's text nor the question's words appear anywhere."""
    secret_words = [f"zq{uuid.uuid4().hex[:10]}" for _ in range(4)]
    article_text = (
        f"The {secret_words[0]} harbour reopened on Monday after storm repairs. "
        f"Engineers from {secret_words[1]} rebuilt the northern quay wall."
    )
    # The harbour the story names (a harbour it does not name would be declined before the
    # LLM is asked), with a secret word of the question's own beside it.
    question = f"Who rebuilt the quay wall of the {secret_words[0]} harbour in {secret_words[2]}?"
    query = f"{secret_words[3]} quay wall"
    auth = {"Authorization": f"Bearer {KEY}"}
    with misbehaving_server("error500") as (llm_url, _):
        env = {
            **os.environ,
            "NEWSDESK_DATA_DIR": str(tmp_path / "data"),
            "NEWSDESK_API_KEYS": KEY,
            "NEWSDESK_BACKEND": "openai",
            "NEWSDESK_OPENAI_BASE_URL": llm_url,
            "NEWSDESK_LLM_MAX_RETRIES": "0",
            "NEWSDESK_LOG_FORMAT": "json",
            "NEWSDESK_LOG_LEVEL": "debug",
        }
        log = tmp_path / "serve.log"
        with (
            newsdesk_serve(NEWSDESK, env=env, cwd=tmp_path, log=log) as server,
            httpx.Client(base_url=server.url, timeout=PATIENCE_S, headers=auth) as http,
        ):
            article = {"id": "harbour", "title": "Harbour", "text": article_text}
            assert http.post("/articles", json=article).status_code == 200
            searched = http.post(f"/search?q={query.replace(' ', '+')}", json={"query": query})
            assert searched.status_code == 200
            asked = http.post("/ask", json={"question": question})
            assert asked.status_code == 200 and asked.json()["degraded"] is True
            with http.stream("POST", "/ask", json={"question": question, "stream": True}) as sse:
                sse.read()
                streamed_id = sse.headers["x-request-id"]
            refused = http.get("/articles", headers={"Authorization": "Bearer " + "x" * 40})
            assert refused.status_code == 401
    text = log.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all(isinstance(line, dict) for line in lines)

    ask_id = asked.headers["x-request-id"]
    ask_lines = [line for line in lines if line.get("request_id") == ask_id]
    access = [line for line in ask_lines if line["logger"] == "newsdesk.access"]
    assert len(access) == 1 and access[0]["route"] == "/ask" and access[0]["status"] == 200
    assert access[0]["principal"] == "key-1"  # the key's name, never the key
    # Logged from the thread pool the /ask route runs in: the id still came along.
    assert any(line["logger"] == "newsdesk.metrics" for line in ask_lines), ask_lines
    stream_access = [
        line
        for line in lines
        if line.get("request_id") == streamed_id and line["logger"] == "newsdesk.access"
    ]
    assert len(stream_access) == 1 and stream_access[0]["status"] == 200
    assert any(line["logger"].startswith("uvicorn") for line in lines)  # uvicorn's too

    assert KEY not in text and "x" * 40 not in text
    for word in [*secret_words, "storm repairs", "northern quay"]:
        assert word not in text, word
