"""Per-request cost caps (issue 12 §1): summary articles and characters, chat message and
conversation length, the answer's budget of passage characters, answer slots (503 with
Retry-After), stage deadlines. Each refusal comes before the work it saves."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from newsdesk.api.app import create_app
from newsdesk.api.limits import AnswerSlots, Overloaded
from newsdesk.container import Newsdesk
from newsdesk.domain import SearchFilters
from newsdesk.embedding import Embedder
from newsdesk.generation.budgets import GenerationDeadline, GenerationTimeout, passages_within
from newsdesk.index.text import sentence_spans
from newsdesk.settings import Settings

from .support.live_server import serve
from .support.patience import PATIENCE_S
from .support.samples import load_samples

QUESTION = "Why did NATO refuse a no-fly zone over Ukraine?"
PROBLEM = "application/problem+json"


@dataclass
class Served:
    url: str
    desk: Newsdesk
    app: FastAPI

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", json=body, timeout=PATIENCE_S)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("caps") / "data",
        backend="extractive",
        max_summary_articles=2,
        max_summary_chars=3000,
        max_chat_message_chars=500,
        max_chat_chars=1000,
        max_concurrent_llm_requests=1,
        llm_queue_seconds=0.2,
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples())
        app = create_app(settings, desk=desk)
        with serve(app) as url:
            yield Served(url, desk, app)


def _article_ids(desk: Newsdesk) -> list[tuple[str, int]]:
    items, _ = desk.store.list_articles(SearchFilters(), limit=100, offset=0)
    lengths = desk.store.article_lengths([a.id for a in items])
    return sorted(lengths.items(), key=lambda item: item[1])


def _over_cap(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:newsdesk:problem:over-cost-cap"
    return problem


@pytest.mark.parametrize("stream", [False, True])
def test_a_summary_of_too_many_articles_is_refused_before_any_work(
    served: Served, stream: bool
) -> None:
    ids = [article_id for article_id, _ in _article_ids(served.desk)[:3]]
    problem = _over_cap(served.post("/summaries", {"article_ids": ids, "stream": stream}))
    assert "NEWSDESK_MAX_SUMMARY_ARTICLES" in problem["detail"]
    assert served.desk.store.cached_summary_count() == 0


@pytest.mark.parametrize("stream", [False, True])
def test_a_summary_of_too_many_characters_is_refused_before_any_work(
    served: Served, stream: bool
) -> None:
    longest, length = _article_ids(served.desk)[-1]
    assert length > 3000
    problem = _over_cap(served.post("/summaries", {"article_id": longest, "stream": stream}))
    assert f"{length:,}" in problem["detail"] and "NEWSDESK_MAX_SUMMARY_CHARS" in problem["detail"]
    assert served.desk.store.cached_summary_count() == 0


def test_a_summary_within_the_caps_is_made(served: Served) -> None:
    shortest, length = _article_ids(served.desk)[0]
    assert length <= 3000
    response = served.post("/summaries", {"article_id": shortest, "length": "short"})
    assert response.status_code == 200, response.text
    assert response.json()["articles"] == [shortest]


def test_a_topic_summary_keeps_to_the_caps(served: Served) -> None:
    response = served.post("/summaries", {"topic": "war in Ukraine", "top_k": 100})
    assert response.status_code == 200, response.text
    summary = response.json()
    assert 1 <= len(summary["articles"]) <= 2
    quoted = {c["article_id"] for c in summary["citations"]}
    assert quoted <= set(summary["articles"])


def _chat(served: Served, messages: list[dict[str, str]]) -> httpx.Response:
    return served.post("/v1/chat/completions", {"model": "newsdesk", "messages": messages})


def test_a_chat_message_over_the_cap_is_an_openai_error(served: Served) -> None:
    response = _chat(
        served,
        [
            {"role": "user", "content": "x " * 300},
            {"role": "assistant", "content": "Nothing."},
            {"role": "user", "content": QUESTION},
        ],
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "string_above_max_length"
    assert error["param"] == "messages.0.content"


def test_a_conversation_over_the_cap_is_an_openai_error(served: Served) -> None:
    turn = "Tell me more about the story. " * 14  # 420 characters: under the message cap
    messages = [{"role": "user", "content": turn}, {"role": "assistant", "content": turn}]
    response = _chat(served, [*messages, {"role": "user", "content": turn}])
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert error["type"] == "invalid_request_error"
    assert _chat(served, [{"role": "user", "content": QUESTION}]).status_code == 200


def test_a_large_top_k_answer_reads_only_its_budget_of_passages(
    loaded_desk: Newsdesk, client: Any
) -> None:
    # A fresh desk: its answer-path embedding cache holds what this one answer embedded.
    settings = loaded_desk.settings
    passages = loaded_desk.searcher.search(QUESTION, 100)
    within = passages_within(passages, settings.max_answer_context_chars)
    assert len(within) < len(passages)
    response = client.post("/ask", json={"question": QUESTION, "top_k": 100})
    assert response.status_code == 200, response.text
    assert not response.json()["abstained"]
    read = {p.text[s.start : s.end] for p in within for s in sentence_spans(p.text)}
    beyond = {
        p.text[s.start : s.end] for p in passages[len(within) :] for s in sentence_spans(p.text)
    } - read
    assert beyond
    embedded = [sentence for sentence in beyond if sentence in loaded_desk.caching_embedder]
    assert embedded == []
    assert any(sentence in loaded_desk.caching_embedder for sentence in read)
    # Search still returns every passage asked for.
    found = client.post("/search", json={"query": QUESTION, "top_k": 100}).json()["results"]
    assert len(found) == len(passages)


def test_busy_slots_refuse_with_503_and_retry_after(served: Served) -> None:
    slots: AnswerSlots = served.app.state.answer_slots
    with slots.held():
        busy = served.post("/ask", {"question": QUESTION})
        assert busy.status_code == 503
        assert busy.headers["content-type"] == PROBLEM
        assert int(busy.headers["retry-after"]) >= 1
        streamed = served.post("/ask", {"question": QUESTION, "stream": True})
        assert streamed.status_code == 503 and streamed.headers["content-type"] == PROBLEM
        chat = _chat(served, [{"role": "user", "content": QUESTION}])
        assert chat.status_code == 503
        assert chat.json()["error"]["type"] == "server_error"
        assert int(chat.headers["retry-after"]) >= 1
        # Search composes no answer: it is not held back.
        assert served.post("/search", {"query": QUESTION}).status_code == 200
    assert served.post("/ask", {"question": QUESTION}).status_code == 200


def test_a_finished_stream_gives_its_slot_back(served: Served) -> None:
    for _ in range(2):  # one slot: the second stream gets it only if the first gave it back
        streamed = served.post("/ask", {"question": QUESTION, "stream": True})
        assert streamed.status_code == 200
        assert "event: answer" in streamed.text
    for _ in range(2):
        streamed = served.post("/summaries", {"topic": "crane collapse", "stream": True})
        assert streamed.status_code == 200 and "event: summary" in streamed.text
    assert served.post("/ask", {"question": QUESTION}).status_code == 200


def test_a_slot_is_refused_after_the_wait() -> None:
    slots = AnswerSlots(1, 0.01)
    with slots.held(), pytest.raises(Overloaded) as caught, slots.held():
        pass
    assert caught.value.status_code == 503
    assert caught.value.headers == {"Retry-After": "1"}
    with slots.held():  # released on the way out
        pass


def test_generation_that_runs_out_of_time_is_an_llm_error() -> None:
    deadline = GenerationDeadline(0.0)
    with pytest.raises(GenerationTimeout, match="NEWSDESK_GENERATION_TIMEOUT_SECONDS"):
        deadline.check()
    GenerationDeadline(3600).check()


def test_retrieval_past_its_deadline_is_a_504(tmp_path: Any, embedder: Embedder) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        backend="extractive",
        retrieval_timeout_seconds=1e-9,  # every search takes longer than this
        _env_file=None,
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(load_samples()[:2])
        with serve(create_app(settings, desk=desk)) as url:
            response = httpx.post(f"{url}/ask", json={"question": QUESTION}, timeout=PATIENCE_S)
            assert response.status_code == 504
            assert response.json()["type"] == "urn:newsdesk:problem:stage-timeout"
            search = httpx.post(f"{url}/search", json={"query": QUESTION}, timeout=PATIENCE_S)
            assert search.status_code == 200  # search alone has no deadline to miss
