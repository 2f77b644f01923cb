"""The circuit breaker in front of the LLM: after repeated failures calls stop reaching a
failing provider (a real misbehaving HTTP server counts what it receives), answers degrade and
say why, /health and /ready tell; after the cool-down one trial call without retries decides."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.generation.circuit import CircuitBreaker
from newsdesk.generation.llm import LLMError, LLMUnavailable
from newsdesk.settings import Settings

from .misbehaving_server import Behaviour, RequestCounter, misbehaving_server, provider_settings
from .support.patience import PATIENCE_S
from .support.samples import load_samples
from .support.sse import event_source

CRANE = "How many people were killed when the crane fell in Mecca?"
# Long enough never to run out during a test: the tests that need it to run out set a short one.
NEVER_S = PATIENCE_S * 10


@contextmanager
def _provider_client(
    tmp_path, embedder: Embedder, behaviour: Behaviour, **options: Any
) -> Iterator[tuple[TestClient, Newsdesk, RequestCounter]]:
    server_options = {k: options.pop(k) for k in ("fail_times",) if k in options}
    with misbehaving_server(behaviour, **server_options) as (base_url, counter):
        settings = provider_settings(tmp_path / "data", base_url, **options)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            desk.ingestor.ingest(load_samples()[4:5])  # the crane article
            with TestClient(create_app(settings, desk=desk)) as client:
                yield client, desk, counter


def _ask(client: TestClient) -> dict:
    response = client.post("/ask", json={"question": CRANE})
    assert response.status_code == 200
    return response.json()


def _wait_for_llm_state(client: TestClient, prefix: str) -> str:
    deadline = time.monotonic() + PATIENCE_S
    while not (state := client.get("/health").json()["llm"]).startswith(prefix):
        assert time.monotonic() < deadline, f"llm state stayed {state!r}"
        time.sleep(0.05)
    return state


def test_an_open_circuit_keeps_answers_from_reaching_a_failing_provider(tmp_path, embedder) -> None:
    with _provider_client(
        tmp_path,
        embedder,
        "error500",
        llm_breaker_failures=2,
        llm_breaker_cooldown_seconds=NEVER_S,
    ) as (client, _, counter):
        answers = [_ask(client) for _ in range(4)]
        with client.stream("POST", "/ask", json={"question": CRANE, "stream": True}) as response:
            streamed = list(event_source(response).iter_sse())[-1].json()
        health = client.get("/health").json()
        ready = client.get("/ready")
        assert counter.value == 2  # two failures opened it; nothing reached the server after
    for answer in [*answers, streamed]:
        assert answer["degraded"] and answer["backend"] == "extractive"
        assert "107" in answer["answer"]
    assert "HTTP 500" in answers[0]["degraded_reason"]
    for answer in [*answers[2:], streamed]:
        assert answer["degraded_reason"].startswith("LLM circuit open after 2 consecutive")
    assert health["llm"].startswith("open circuit: 2 consecutive LLM calls failed")
    # A provider outage leaves the replica ready: search works and answers say they degraded.
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready" and ready.json()["llm"] == "open circuit"


def test_a_failing_stream_counts_like_a_failing_call(tmp_path, embedder) -> None:
    with _provider_client(
        tmp_path,
        embedder,
        "broken_stream",
        llm_breaker_failures=1,
        llm_breaker_cooldown_seconds=NEVER_S,
    ) as (client, _, counter):
        for _ in range(3):
            with client.stream(
                "POST", "/ask", json={"question": CRANE, "stream": True}
            ) as response:
                final = list(event_source(response).iter_sse())[-1].json()
            assert final["degraded"]
        assert counter.value == 1
        assert client.get("/health").json()["llm"].startswith("open circuit: ")


def test_one_trial_call_without_retries_then_success_closes_the_circuit(tmp_path, embedder) -> None:
    # Each call is retried twice by the client; the provider fails its first four requests.
    with _provider_client(
        tmp_path,
        embedder,
        "flaky",
        fail_times=4,
        llm_max_retries=2,
        llm_breaker_failures=1,
        llm_breaker_cooldown_seconds=0.5,
    ) as (client, _, counter):
        assert _ask(client)["degraded"]
        assert counter.value == 3  # one call: the request and its two retries, all failed
        _wait_for_llm_state(client, "open circuit: 1 consecutive LLM calls failed, next call")
        trial = _ask(client)
        assert trial["degraded"] and "HTTP 500" in trial["degraded_reason"]
        assert counter.value == 4  # the trial made one request, not three
        assert client.get("/health").json()["llm"].startswith("open circuit: ")
        _wait_for_llm_state(client, "open circuit: 2 consecutive LLM calls failed, next call")
        healed = _ask(client)
        assert not healed["degraded"] and healed["backend"] == "openai"
        assert counter.value == 5
        assert client.get("/health").json()["llm"] == "ready"
        assert not _ask(client)["degraded"]
        assert counter.value == 6


def test_settings_refuse_a_breaker_that_never_closes() -> None:
    with pytest.raises(ValueError, match="llm_breaker_failures"):
        Settings(llm_breaker_failures=0, _env_file=None)
    with pytest.raises(ValueError, match="llm_breaker_cooldown_seconds"):
        Settings(llm_breaker_cooldown_seconds=0, _env_file=None)


# --- the breaker's states, on a clock the test moves --------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_breaker_opens_admits_one_trial_and_closes() -> None:
    clock = _Clock()
    breaker = CircuitBreaker(failures=3, cooldown=10.0, clock=clock)
    for _ in range(2):
        assert breaker.admit() is False
        breaker.failed(LLMError("boom"), trial=False)
    assert breaker.state == "closed"
    breaker.succeeded(trial=False)  # a success in between starts the count again
    for _ in range(3):
        breaker.admit()
        breaker.failed(LLMError("boom"), trial=False)
    assert breaker.state == "open"
    with pytest.raises(LLMUnavailable, match="circuit open"):
        breaker.admit()
    clock.now += 10.0
    assert breaker.state == "half-open"
    assert breaker.admit() is True
    with pytest.raises(LLMUnavailable):
        breaker.admit()  # one trial at a time
    breaker.abandoned(trial=True)  # a stream closed early decides nothing
    assert breaker.admit() is True
    breaker.failed(LLMError("still down"), trial=True)
    assert breaker.state == "open" and "still down" in (breaker.describe() or "")
    clock.now += 10.0
    assert breaker.admit() is True
    breaker.succeeded(trial=True)
    assert breaker.state == "closed" and breaker.describe() is None
