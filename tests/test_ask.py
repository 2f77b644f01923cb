"""/ask end to end with the extractive backend (no LLM): retrieval, abstention, citation
offsets, streaming and the CLI/HTTP shape. The LLM paths are in test_ask_llm.py."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from newsdesk.container import Newsdesk
from newsdesk.generation.extractive import answers_kind, question_kind

from .support.sse import event_source
from .support.stored import stored_article

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
    pytest.mark.lexical_stores,
]  # store-facing: each store kind

ANSWERABLE = [
    (
        "How many people were killed when the crane fell in Mecca?",
        "wikinews-2015-mecca-crane-collapse",
        "107",
    ),
    ("Why did NATO refuse to close Ukraine's airspace?", "nato-no-fly-zone-stoltenberg", None),
]
OFF_TOPIC = [
    "What is the recipe for a classic French onion soup?",
    "Which team won the 1998 Eurovision song contest?",
]


def _assert_citations_exact(desk: Newsdesk, answer) -> None:
    for citation in answer.citations:
        article = stored_article(desk.store, citation.article_id)
        assert article.text[citation.char_start : citation.char_end] == citation.quote
        assert citation.quote in citation.passage
    used = {n for s in answer.sentences for n in s.citations}
    assert used == {c.number for c in answer.citations}


@pytest.mark.parametrize(("question", "article_id", "expected"), ANSWERABLE)
def test_answers_cite_the_right_article_exactly(
    loaded_desk: Newsdesk, question, article_id, expected
) -> None:
    answer = loaded_desk.answerer().ask(question)
    assert not answer.abstained, answer.abstain_reason
    assert answer.backend == "extractive"
    assert answer.citations and answer.citations[0].article_id == article_id
    assert all(s.supported for s in answer.sentences)
    assert "[1]" in answer.answer
    if expected:
        assert expected in answer.answer
    _assert_citations_exact(loaded_desk, answer)
    assert answer.timings.total_ms >= answer.timings.retrieval_ms > 0


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(loaded_desk: Newsdesk, question: str) -> None:
    answer = loaded_desk.answerer().ask(question)
    assert answer.abstained and answer.citations == [] and answer.sentences == []
    assert answer.answer == "The articles don't say."
    assert answer.abstain_reason


def test_a_covered_story_that_lacks_the_asked_fact_abstains(loaded_desk: Newsdesk) -> None:
    # The crane story is found, but it never gives the crane operator's name.
    answer = loaded_desk.answerer().ask("Who was the driver operating the crane in Mecca?")
    assert answer.abstained, answer.answer


def test_question_kinds_and_answer_types() -> None:
    assert question_kind("How many people died?") == "number"
    assert question_kind("When did the shuttle retire?") == "date"
    assert question_kind("Who leads NATO?") == "person"
    assert question_kind("Where did the crane fall?") == "place"
    assert question_kind("Why did NATO refuse?") == "other"
    q = "How many people died in the collapse?"
    assert answers_kind("At least 107 people died in the collapse.", "number", q)
    assert not answers_kind("Many people died in the collapse.", "number", q)
    assert not answers_kind("It happened in 2015.", "number", "How many died in 2015?")
    assert answers_kind("It happened on Friday.", "date", "When did it happen?")
    assert not answers_kind("It happened after the storm.", "date", "When did it happen?")


def test_http_ask_and_stream(client: TestClient, samples) -> None:
    client.post("/articles", json=[json.loads(a.model_dump_json()) for a in samples])
    body = {"question": ANSWERABLE[0][0], "top_k": 5}
    plain = client.post("/ask", json=body)
    assert plain.status_code == 200, plain.text
    answer = plain.json()
    assert {
        "answer",
        "citations",
        "sentences",
        "abstained",
        "degraded",
        "backend",
        "model",
        "timings",
    } <= answer.keys()
    assert {
        "number",
        "chunk_id",
        "article_id",
        "title",
        "url",
        "published_at",
        "passage",
        "quote",
        "char_start",
        "char_end",
    } <= answer["citations"][0].keys()
    assert {"text", "citations", "support", "supported"} <= answer["sentences"][0].keys()

    with client.stream("POST", "/ask", json={**body, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = list(event_source(response).iter_sse())
    assert events[-1].event == "answer"
    streamed = events[-1].json()
    assert streamed["answer"] == answer["answer"]
    sentences = [event.json() for event in events if event.event == "sentence"]
    assert " ".join(s["text"] for s in sentences) == answer["answer"]
    assert [s["sentence"] for s in sentences] == answer["sentences"]

    bad = client.post("/ask", json={"question": "x", "top_k": 10**6, "stream": True})
    assert bad.status_code == 422 and bad.headers["content-type"].startswith(
        "application/problem+json"
    )
