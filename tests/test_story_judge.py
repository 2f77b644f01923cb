"""The LLM as judge of the story check (NEWSDESK_STORY_GATE_JUDGE): when the check would
decline ("the articles never mention …"), the answering LLM's yes/no, read from its first
reply token's log probabilities, may clear it. The provider is a real local HTTP server
playing the remote API (tests/misbehaving_server.py); the local llama.cpp server gives real
log probabilities (tests/test_llm_backends.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from newsdesk.answers import CitedAnswer
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.generation.story_judge import yes_log_odds

from .misbehaving_server import misbehaving_server, provider_settings

# The story names the asked thing its own way: "interim manager", not "temporary charge".
STORY = ArticleInput(
    id="orient",
    title="Leyton Orient relegate Dagenham",
    text=(
        "Leyton Orient beat Dagenham and Redbridge 3-2 on Saturday. Leyton Orient interim "
        "manager Andy Hessenthaler said the players had shown great character. Armand "
        "Gnanduillet fired in the winner in the 88th minute."
    ),
)
QUESTION = "Who is in temporary charge of Leyton Orient?"
NEVER = "the articles never mention"


def _judge_calls(counter: Any) -> list[dict[str, Any]]:
    return [body for body in counter.bodies if body.get("logprobs")]


def _ask(
    tmp_path: Path, embedder: Embedder, judge_says: str, **settings: Any
) -> tuple[CitedAnswer, list[dict[str, Any]]]:
    """The answer on the openai backend (the model decides) when the judge's reply starts
    with `judge_says` and the answer call writes the story's sentence back."""
    written = "Andy Hessenthaler is Leyton Orient's interim manager [1]."

    def route(body: dict[str, Any]) -> tuple[Any, str]:
        return "ok", judge_says if body.get("logprobs") else written

    with misbehaving_server("ok", route=route) as (base_url, counter):
        options = provider_settings(tmp_path / "data", base_url, **settings)
        with Newsdesk.open(options, embedder=embedder) as desk:
            desk.ingestor.ingest([STORY])
            answer = desk.answerer().ask(QUESTION, top_k=3)
        return answer, _judge_calls(counter)


def test_without_the_judge_the_story_check_declines_and_no_judge_is_asked(
    tmp_path: Path, embedder: Embedder
) -> None:
    answer, judged = _ask(tmp_path, embedder, "yes")
    assert answer.abstained and NEVER in (answer.abstain_reason or "")
    assert judged == []


def test_a_judge_that_says_yes_clears_the_check(tmp_path: Path, embedder: Embedder) -> None:
    answer, judged = _ask(tmp_path, embedder, "yes", story_gate_judge="llm")
    assert len(judged) == 1
    # One reply token, with its alternatives, over the closest story's passages.
    assert judged[0]["max_tokens"] == 1 and judged[0]["top_logprobs"] >= 2
    assert "Hessenthaler" in judged[0]["messages"][-1]["content"]
    assert not answer.abstained, answer.abstain_reason
    assert "Hessenthaler" in answer.answer and answer.sentences[0].supported


def test_a_judge_that_says_no_or_too_faintly_leaves_the_decline(
    tmp_path: Path, embedder: Embedder
) -> None:
    answer, judged = _ask(tmp_path, embedder, "no", story_gate_judge="llm")
    assert len(judged) == 1
    assert answer.abstained and NEVER in (answer.abstain_reason or "")
    assert "the LLM judge agrees: log-odds -2.95 < 1.5" in (answer.abstain_reason or "")
    # "yes" at log-odds 2.95 is not enough when the setting asks for more.
    strict, _ = _ask(
        tmp_path / "strict", embedder, "yes", story_gate_judge="llm",
        story_gate_judge_min_log_odds=3.0,
    )  # fmt: skip
    assert strict.abstained and "log-odds 2.95 < 3.0" in (strict.abstain_reason or "")


def test_a_failing_judge_leaves_the_decline(tmp_path: Path, embedder: Embedder) -> None:
    with misbehaving_server("error500") as (base_url, _):
        options = provider_settings(tmp_path / "data", base_url, story_gate_judge="llm")
        with Newsdesk.open(options, embedder=embedder) as desk:
            desk.ingestor.ingest([STORY])
            answer = desk.answerer().ask(QUESTION, top_k=3)
    assert answer.abstained and NEVER in (answer.abstain_reason or "")
    assert "the LLM judge could not be asked" in (answer.abstain_reason or "")


def test_the_log_odds_of_yes_over_no() -> None:
    assert yes_log_odds({"yes": -0.1, "no": -2.1}) == pytest.approx(2.0)
    # Case and spacing variants of a word count together.
    both = yes_log_odds({"Yes": math.log(0.3), " yes": math.log(0.3), "No": math.log(0.4)})
    assert both == pytest.approx(math.log(0.6 / 0.4))
    # No "no" among the alternatives: it is at most the least likely one (a lower bound).
    assert yes_log_odds({"yes": -0.01, "The": -5.0}) == pytest.approx(4.99)
    assert yes_log_odds({"no": -0.01, "The": -5.0}) is None
    assert yes_log_odds({}) is None
