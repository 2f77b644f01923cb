"""Who decides that the passages answer, on the LLM backends (`llm_answerability`): the
extractive rules (the LLM writes the answer, and when it declines the story's own sentence
answers) or the model itself. The provider is a real local HTTP server playing the remote
API (tests/misbehaving_server.py)."""

from __future__ import annotations

import pytest

from newsdesk.answers import CitedAnswer
from newsdesk.container import Newsdesk
from newsdesk.generation.answer import AnswerEvent
from newsdesk.generation.streaming import SentenceEvent

from .misbehaving_server import misbehaving_server, provider_settings

CRANE = "How many people were killed when the crane fell in Mecca?"
# The NATO story mentions Russian planes, but no count of any shot down: the story-coverage
# check lets it through, the extractive rules decline it.
NO_COUNT = "How many Russian planes did NATO shoot down over Ukraine?"
DECLINE = "The articles don't say."


def _desk(tmp_path, base_url, embedder, samples, decides: str) -> Newsdesk:
    settings = provider_settings(tmp_path / "data", base_url, llm_answerability=decides)
    desk = Newsdesk.open(settings, embedder=embedder)
    desk.ingestor.ingest(samples)
    return desk


def _ask(
    tmp_path, embedder, samples, *, generated: str, question: str = CRANE, decides="extractive"
) -> tuple[CitedAnswer, int]:
    """The answer when the provider writes `generated`, and how many calls it received."""
    with (
        misbehaving_server("ok", text=generated) as (base_url, counter),
        _desk(tmp_path, base_url, embedder, samples, decides) as desk,
    ):
        answer = desk.answerer().ask(question, top_k=5)
    return answer, counter.value


@pytest.mark.parametrize("decides", ["extractive", "model", "auto"])
def test_a_model_that_declines_gives_way_to_the_sentence_that_answers(
    tmp_path, embedder, samples, decides
) -> None:
    answer, calls = _ask(tmp_path, embedder, samples, generated=DECLINE, decides=decides)
    assert calls == 1  # the model was asked either way
    if decides == "extractive":
        assert not answer.abstained and answer.backend == "extractive"
        assert "107" in answer.answer and answer.sentences[0].supported
        assert answer.fallback_reason == "the model found no answer in the passages"
    else:  # `auto` on the openai backend: the model decides
        assert answer.abstained and answer.backend == "openai"
        assert answer.fallback_reason is None


def test_a_question_the_rules_decline_never_reaches_the_model(tmp_path, embedder, samples) -> None:
    invented = "NATO shot down 12 Russian planes [1]."
    answer, calls = _ask(tmp_path, embedder, samples, generated=invented, question=NO_COUNT)
    assert answer.abstained and calls == 0
    assert answer.abstain_reason == "no passage sentence answers the question"


def test_the_models_own_supported_answer_stands(tmp_path, embedder, samples) -> None:
    generated = "A storm made a crane fall into Mecca's Grand Mosque, killing 107 people [1]."
    answer, calls = _ask(tmp_path, embedder, samples, generated=generated)
    assert calls == 1
    assert answer.backend == "openai" and answer.fallback_reason is None
    assert answer.answer.startswith("A storm made a crane fall")


def test_a_stream_of_unsupported_sentences_ends_with_the_stories_answer(
    tmp_path, embedder, samples
) -> None:
    invented = "The Saudi king resigned the next day [1]. Pilgrims were sent home [2]."
    with (
        misbehaving_server("ok", text=invented) as (base_url, _),
        _desk(tmp_path, base_url, embedder, samples, "extractive") as desk,
    ):
        events = list(desk.answerer().stream(CRANE, top_k=5))
    final = events[-1]
    assert isinstance(final, AnswerEvent) and not final.answer.abstained
    assert final.answer.fallback_reason == "no generated sentence is supported by the passages"
    released = [e.sentence for e in events if isinstance(e, SentenceEvent)]
    # Whatever was released of the model's text was marked unsupported; the answer's own
    # sentences follow in full, so a client that shows each event shows the answer.
    assert all(not s.supported for s in released[: -len(final.answer.sentences)])
    assert released[-len(final.answer.sentences) :] == final.answer.sentences


def test_a_supported_sentence_that_does_not_answer_gives_way(tmp_path, embedder, samples) -> None:
    # True of the story, checked and supported, but no count of the dead.
    restated = "A crane fell into the Grand Mosque in Mecca [1]."
    answer, _ = _ask(tmp_path, embedder, samples, generated=restated)
    assert answer.backend == "extractive" and "107" in answer.answer
    assert answer.fallback_reason == "no supported sentence of the model's answers the question"
