"""Disagreement in answers: where another retrieved article reports the answer's matter with
other numbers, /ask (plain and streamed) and the chat completion's `newsdesk` field say so
and cite both sides. Real embedder, real pipeline, extractive backend."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.container import Newsdesk

from .support.disagreement import MECCA, QUESTION, second_outlet
from .support.sse import event_source
from .support.stored import stored_article

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
]  # store-facing: each store kind


def _disagreements(answer: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in answer["relations"] if r["relation"] == "disagrees"]


def _assert_both_sides_cited(desk: Newsdesk, answer: dict[str, Any], other: str) -> None:
    by_number = {c["number"]: c for c in answer["citations"]}
    assert sorted(by_number) == list(range(1, len(by_number) + 1))
    for citation in answer["citations"]:
        article = stored_article(desk.store, citation["article_id"])
        text = article.text
        assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]
    disagreements = _disagreements(answer)
    assert disagreements, answer["relations"]
    for relation in disagreements:
        sentence = answer["sentences"][relation["sentence"]]
        cited = {by_number[n]["article_id"] for n in sentence["citations"]}
        assert cited == {MECCA, other}, sentence
        assert relation["citation"] in sentence["citations"]
        assert f"[{relation['citation']}]" in answer["answer"]
        quote = by_number[relation["citation"]]["quote"]
        assert by_number[relation["citation"]]["article_id"] == relation["article_id"]
        # The two sides really state different tolls.
        own = [by_number[n]["quote"] for n in sentence["citations"] if n != relation["citation"]]
        assert {"107", "111"} <= {t for q in [quote, *own] for t in ("107", "111") if t in q}


def test_an_answer_cites_both_sides_of_a_conflicting_toll(
    loaded_desk: Newsdesk, client: TestClient
) -> None:
    other = second_outlet(loaded_desk, "111")
    loaded_desk.ingestor.ingest([other])
    body = {"question": QUESTION, "top_k": 8}
    answer = client.post("/ask", json=body).json()
    assert not answer["abstained"], answer["abstain_reason"]
    _assert_both_sides_cited(loaded_desk, answer, other.id)
    assert {r["article_id"] for r in _disagreements(answer)} <= {MECCA, other.id}

    with client.stream("POST", "/ask", json={**body, "stream": True}) as response:
        events = list(event_source(response).iter_sse())
    assert events[-1].event == "answer"
    streamed = events[-1].json()
    assert streamed["relations"] == answer["relations"]
    assert streamed["sentences"] == answer["sentences"]

    chat = client.post(
        "/v1/chat/completions",
        json={"model": "newsdesk", "messages": [{"role": "user", "content": QUESTION}]},
    ).json()
    _assert_both_sides_cited(loaded_desk, chat["newsdesk"], other.id)


def test_a_consistent_second_source_is_no_disagreement(
    loaded_desk: Newsdesk, client: TestClient
) -> None:
    alone = client.post("/ask", json={"question": QUESTION, "top_k": 8}).json()
    assert not alone["abstained"] and alone["relations"] == []
    # The same second report with the same toll: same matter, same numbers.
    loaded_desk.ingestor.ingest([second_outlet(loaded_desk, "107")])
    answer = client.post("/ask", json={"question": QUESTION, "top_k": 8}).json()
    assert not answer["abstained"], answer["abstain_reason"]
    assert _disagreements(answer) == [], answer["relations"]
