"""The LLM judge (NEWSDESK_LLM_JUDGE): one extra call per answer or summary, verdicts recorded
beside the checker's and combined into `supported`; a failed, slow or malformed judge leaves
`unknown` and never fails the answer. The provider is a real local HTTP server playing the
remote API (it answers the judge's request apart from the answer's); one test (marked `llm`)
uses the real local llama.cpp server."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsdesk.answers import AnswerSentence, CitedAnswer, CitedText
from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.domain import ArticleInput
from newsdesk.embedding import Embedder
from newsdesk.generation.judge import MalformedVerdicts, judge_prompt, parse_verdicts
from newsdesk.settings import Settings

from .misbehaving_server import Behaviour, misbehaving_server, provider_settings
from .support.patience import LLM_PATIENCE_S
from .support.sse import event_source

CRANE = "How many people were killed when the crane fell in Mecca?"
MECCA = "wikinews-2015-mecca-crane-collapse"
MECCA = "wikinews-2015-mecca-crane-collapse"
NATO = "nato-no-fly-zone-stoltenberg"
# Two sentences the crane story states, and one it does not.
GENERATED = (
    "A storm caused a crane to fall into Mecca's Grand Mosque, killing 107 people [1]. "
    "The accident was caused by strong winds and heavy rain [1]. "
    "The Saudi king resigned the next day [1]."
)


def _verdicts(*verdicts: tuple[str, str]) -> str:
    return json.dumps(
        {
            "verdicts": [
                {"statement": n, "verdict": verdict, "reason": reason}
                for n, (verdict, reason) in enumerate(verdicts, start=1)
            ]
        }
    )


# The judge says the second sentence is unsupported, and the third supported.
JUDGED = _verdicts(
    ("supported", "The evidence gives the storm and the 107 dead."),
    ("unsupported", "Test verdict: the judge disagrees with the checker here."),
    ("supported", "Test verdict: the judge is fooled."),
)


def _is_judge_call(body: dict[str, Any]) -> bool:
    return body["messages"][0]["content"] == judge_prompt().system


def _provider(judge: tuple[Behaviour, str], answer: str = GENERATED):
    """A provider that writes `answer` and answers the judge's call as `judge` says."""

    def route(body: dict[str, Any]) -> tuple[Behaviour, str]:
        return judge if _is_judge_call(body) else ("ok", answer)

    return route


@pytest.fixture
def judged_desk(tmp_path, embedder: Embedder, samples, request) -> Iterator[tuple[Newsdesk, Any]]:
    """A desk on the `openai` backend with the judge on; `request.param`: the judge's reply
    as (behaviour, text), and settings overrides."""
    judge, overrides = request.param
    with misbehaving_server("ok", route=_provider(judge)) as (base_url, counter):
        options = {"openai_model": "remote-model", "llm_judge": True, **overrides}
        settings = provider_settings(tmp_path / "data", base_url, **options)
        with Newsdesk.open(settings, embedder=embedder) as desk:
            # Two stories are enough to answer from (and quicker to embed than all).
            desk.ingestor.ingest([a for a in samples if a.id in (MECCA, NATO)])
            yield desk, counter


def _passes(desk: Newsdesk) -> dict[str, float]:
    judge = desk.judge()
    assert judge is not None
    return {
        sample.labels["outcome"]: sample.value
        for metric in judge.metrics.passes.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }


def _checker_verdict(desk: Newsdesk, answer: CitedAnswer) -> list[bool]:
    return [s.support >= desk.settings.support_threshold for s in answer.sentences]


@pytest.mark.parametrize("judged_desk", [(("ok", JUDGED), {})], indirect=True)
def test_verdicts_are_recorded_and_combined(judged_desk) -> None:
    desk, counter = judged_desk
    answer = desk.answerer().ask(CRANE, top_k=5)
    assert not answer.degraded and not answer.abstained
    assert counter.value == 2, "one answer call, one judge call"
    judge_body = counter.bodies[1]
    assert _is_judge_call(judge_body)
    assert judge_body["response_format"] == {"type": "json_object"}
    assert judge_body["temperature"] == 0
    prompt = judge_body["messages"][1]["content"]
    for number, sentence in enumerate(answer.sentences, start=1):
        assert f"Statement {number}: {sentence.text}" in prompt
    for citation in answer.citations:
        assert f"> {citation.quote}" in prompt  # the quotes, not the whole passages

    storm, winds, king = answer.sentences
    checker = _checker_verdict(desk, answer)
    assert checker == [True, True, False], [(s.text, s.support) for s in answer.sentences]
    assert [s.judge.verdict for s in answer.sentences if s.judge] == [
        "supported",
        "unsupported",
        "supported",
    ]
    assert all(s.judge and s.judge.model == "remote-model" for s in answer.sentences)
    assert winds.judge and winds.judge.reason and "disagrees" in winds.judge.reason
    # Supported only when both agree: the judge can withdraw support, never grant it.
    assert [s.supported for s in answer.sentences] == [True, False, False]
    assert king.mismatches, "the checker's reasons are kept beside the judge's verdict"
    assert storm.supported and _passes(desk)["ok"] == 1


MALFORMED = [
    "The first statement is supported, the others are not.",
    'Sure! {"verdicts": []}',
    '{"verdicts": [{"statement": 1, "verdict": "maybe", "reason": "unsure"}]}',
    '{"verdicts": [{"statement": "1", "verdict": "supported", "reason": "as string"}]}',
    _verdicts(("supported", "a"), ("supported", "b"), ("supported", "c"), ("supported", "d")),
    '{"verdicts": [{"statement": 1, "verdict": "supported", "reason": "x"},'
    ' {"statement": 1, "verdict": "unsupported", "reason": "y"}]}',
    '{"results": []}',
]


@pytest.mark.parametrize(
    "judged_desk", [(("ok", text), {}) for text in MALFORMED], indirect=True, ids=range(7)
)
def test_a_malformed_judge_leaves_unknown_and_the_checker_decides(
    judged_desk, caplog: pytest.LogCaptureFixture
) -> None:
    desk, counter = judged_desk
    with caplog.at_level(logging.WARNING, logger="newsdesk.generation.judge"):
        answer = desk.answerer().ask(CRANE, top_k=5)
    assert counter.value == 2 and not answer.degraded
    for sentence in answer.sentences:
        assert sentence.judge and sentence.judge.verdict == "unknown"
        assert sentence.judge.reason and "malformed" in sentence.judge.reason
    assert [s.supported for s in answer.sentences] == _checker_verdict(desk, answer)
    assert _passes(desk)["malformed"] == 1
    assert any("malformed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("judged_desk", "outcome"),
    [
        ((("error500", ""), {}), "failed"),
        ((("hang", ""), {"llm_judge_timeout_seconds": 0.7}), "timeout"),
        ((("garbage", ""), {}), "failed"),
    ],
    indirect=["judged_desk"],
)
def test_a_failed_or_slow_judge_never_fails_the_answer(judged_desk, outcome: str) -> None:
    desk, counter = judged_desk
    answer = desk.answerer().ask(CRANE, top_k=5)
    assert not answer.degraded and answer.backend == "openai"
    assert counter.value == 2, "one judge attempt: a call with its own deadline is not retried"
    assert {s.judge.verdict for s in answer.sentences if s.judge} == {"unknown"}
    assert len([s for s in answer.sentences if s.judge]) == len(answer.sentences)
    assert [s.supported for s in answer.sentences] == _checker_verdict(desk, answer)
    assert _passes(desk)[outcome] == 1


@pytest.mark.parametrize("judged_desk", [(("ok", JUDGED), {"llm_judge": False})], indirect=True)
def test_the_judge_is_off_by_default(judged_desk) -> None:
    assert Settings(_env_file=None).llm_judge is False
    desk, counter = judged_desk
    answer = desk.answerer().ask(CRANE, top_k=5)
    assert counter.value == 1 and desk.judge() is None
    assert all(s.judge is None for s in answer.sentences)


@pytest.mark.parametrize(
    "judged_desk", [(("ok", JUDGED), {"generation_timeout_seconds": 0.001})], indirect=True
)
def test_no_time_left_means_no_judge_call(judged_desk) -> None:
    # The answer's LLM calls share the generation deadline; the judge does not run past it.
    desk, counter = judged_desk
    answer = desk.answerer().ask(CRANE, top_k=5)
    assert counter.value == 1 and not answer.degraded
    assert {s.judge.verdict for s in answer.sentences if s.judge} == {"unknown"}
    assert _passes(desk)["timeout"] == 1


# With the drop policy the checker removes the third sentence first: two are judged.
DROP = _verdicts(("supported", "fine"), ("unsupported", "Test verdict: not so."))


@pytest.mark.parametrize(
    "judged_desk", [(("ok", DROP), {"unsupported_sentences": "drop"})], indirect=True
)
def test_the_drop_policy_removes_what_the_judge_rejects(judged_desk) -> None:
    desk, _ = judged_desk
    answer = desk.answerer().ask(CRANE, top_k=5)
    assert [s.text.split()[1] for s in answer.sentences] == ["storm"]
    removed = answer.check.removed_sentences
    assert len(removed) == 2 and "king" in removed[0] and "winds" in removed[1], removed
    assert {n for s in answer.sentences for n in s.citations} == {
        c.number for c in answer.citations
    }


@pytest.mark.parametrize("judged_desk", [(("ok", JUDGED), {})], indirect=True)
def test_streams_chat_and_summaries_carry_the_verdicts(judged_desk) -> None:
    desk, counter = judged_desk
    with TestClient(create_app(desk.settings, desk=desk)) as client:
        with client.stream("POST", "/ask", json={"question": CRANE, "stream": True}) as response:
            events = list(event_source(response).iter_sse())
        assert events[-1].event == "answer"
        final = events[-1].json()
        assert [s["judge"]["verdict"] for s in final["sentences"]] == [
            "supported",
            "unsupported",
            "supported",
        ]
        assert [s["supported"] for s in final["sentences"]] == [True, False, False]

        body = {"model": "newsdesk", "messages": [{"role": "user", "content": CRANE}]}
        chat = client.post("/v1/chat/completions", json=body).json()
        assert [s["judge"]["verdict"] for s in chat["newsdesk"]["sentences"]] == [
            "supported",
            "unsupported",
            "supported",
        ]
        with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
            chunks = [e.data for e in event_source(r).iter_sse() if e.data != "[DONE]"]
        newsdesk = [json.loads(c)["newsdesk"] for c in chunks if "newsdesk" in json.loads(c)]
        assert [s["judge"]["verdict"] for s in newsdesk[0]["sentences"]][1] == "unsupported"

        before = counter.value
        summary = client.post("/summaries", json={"article_id": MECCA}).json()
        assert counter.value == before + 2, "the summary's call and its judge's"
        judged = [s["judge"] for s in summary["sentences"]]
        assert judged and all(j and j["model"] == "remote-model" for j in judged)
        assert judged[1]["verdict"] == "unsupported" and not summary["sentences"][1]["supported"]

        metrics = client.get("/metrics").text
        assert 'newsdesk_llm_judge_passes_total{outcome="ok"} 4.0' in metrics


def test_parse_verdicts_is_strict() -> None:
    reply = _verdicts(("supported", "fine"), ("unsupported", "a changed number"))
    assert {n: v.verdict for n, v in parse_verdicts(reply, 2).items()} == {
        1: "supported",
        2: "unsupported",
    }
    # One code fence around the JSON is accepted; a statement left out has no verdict.
    fenced = "```json\n" + _verdicts(("supported", "fine")) + "\n```"
    assert list(parse_verdicts(fenced, 2)) == [1]
    for bad in [*MALFORMED[:4], MALFORMED[5], MALFORMED[6], "", "[]", "{}", "```\nnope\n```"]:
        with pytest.raises(MalformedVerdicts):
            parse_verdicts(bad, 3)
    with pytest.raises(MalformedVerdicts):
        parse_verdicts(_verdicts(("supported", "a"), ("supported", "b")), 1)


def test_sentences_without_a_quote_are_not_sent(tmp_path, embedder: Embedder) -> None:
    # An empty collection answers nothing; a direct check of the judge on cited text instead.
    from newsdesk.generation.judge import SentenceJudge
    from newsdesk.generation.llm import OpenAIChatModel

    with misbehaving_server("ok", text=_verdicts(("unsupported", "no"))) as (base_url, counter):
        model = OpenAIChatModel(
            base_url=base_url, api_key=None, model="m", timeout=LLM_PATIENCE_S, max_retries=0
        )
        judge = SentenceJudge(model, timeout_seconds=LLM_PATIENCE_S)
        cited = CitedText(
            text="Uncited. Cited [1].",
            sentences=[
                AnswerSentence(text="Uncited.", citations=[], support=0.1, supported=False),
                AnswerSentence(text="Cited.", citations=[1], support=0.9, supported=True),
            ],
            citations=[_citation()],
        )
        judged = judge.judge(cited)
    assert counter.value == 1
    assert "Statement 1: Cited." in counter.bodies[0]["messages"][1]["content"]
    assert "Uncited" not in counter.bodies[0]["messages"][1]["content"]
    uncited, quoted = judged.sentences
    assert uncited.judge and uncited.judge.verdict == "unknown" and not uncited.supported
    assert quoted.judge and quoted.judge.verdict == "unsupported" and not quoted.supported


def _citation():
    from newsdesk.answers import Citation

    return Citation(
        number=1,
        chunk_id=1,
        article_id="a",
        title="A",
        passage="Cited.",
        quote="Cited.",
        char_start=0,
        char_end=6,
    )


@pytest.mark.llm
def test_the_real_local_model_judges(tmp_path, embedder: Embedder, samples) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        _env_file=None,
        backend="local",
        llm_judge=True,
        llm_answerability="model",  # the model's own answer is what the judge judges
        llm_max_tokens=96,
        local_startup_seconds=LLM_PATIENCE_S,  # ceilings for a busy machine, not delays
        llm_timeout_seconds=LLM_PATIENCE_S,
        llm_judge_timeout_seconds=LLM_PATIENCE_S,
        generation_timeout_seconds=2 * LLM_PATIENCE_S,
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest(samples)
        answer = desk.answerer().ask(CRANE, top_k=4)
        asked = sum(_passes(desk).values())  # one judge call, unless nothing was generated
        judged: CitedAnswer | CitedText = answer
        if answer.abstained:
            # Nothing generated to judge (a small model may abstain here): the same judge,
            # the same real model, on a sentence quoted from the story instead.
            judge = desk.judge()
            assert judge is not None
            judged = judge.judge(_quoted(next(a for a in samples if a.id == MECCA)))
        passes = _passes(desk)
    assert answer.backend == "local" and not answer.degraded, answer.degraded_reason
    assert asked <= 1 and sum(passes.values()) == asked + answer.abstained >= 1, passes
    assert passes["failed"] == passes["timeout"] == 0, passes
    assert judged.sentences
    for sentence in judged.sentences:
        assert sentence.judge is not None and sentence.judge.model == answer.model
        if sentence.judge.verdict == "unsupported":
            assert not sentence.supported
    if passes["ok"]:
        assert any(s.judge and s.judge.verdict != "unknown" for s in judged.sentences)


def _quoted(article: ArticleInput) -> CitedText:
    """The story's first sentence, citing itself: cited text for the judge to judge."""
    first = article.text[: article.text.index(". ") + 1]
    citation = _citation().model_copy(
        update={"article_id": article.id, "title": article.title, "passage": first, "quote": first,
                "char_end": len(first)}
    )  # fmt: skip
    sentence = AnswerSentence(text=first, citations=[1], support=1.0, supported=True)
    return CitedText(text=f"{first} [1]", sentences=[sentence], citations=[citation])


@pytest.mark.parametrize(
    "judged_desk", [(("error500", ""), {"llm_breaker_failures": 1})], indirect=True
)
def test_a_failed_judge_call_counts_toward_the_circuit_breaker(judged_desk) -> None:
    """The judge calls the provider through the same breaker as the answers: a provider that
    fails the judge's call is a failing provider, and the next answer is not sent to it."""
    desk, counter = judged_desk
    first = desk.answerer().ask(CRANE, top_k=5)
    assert not first.degraded and counter.value == 2
    second = desk.answerer().ask(CRANE, top_k=5)
    assert second.degraded, "the judge's failure opened the circuit"
    assert counter.value == 2, "an open circuit sends nothing to the provider"
    assert desk.llm_state().startswith("open circuit")


@pytest.mark.parametrize(
    "judged_desk", [(("ok", MALFORMED[0]), {"llm_breaker_failures": 1})], indirect=True
)
def test_a_malformed_judge_reply_does_not_open_the_circuit(judged_desk) -> None:
    """A provider that answers, however badly, is not failing: the circuit stays closed."""
    desk, counter = judged_desk
    desk.answerer().ask(CRANE, top_k=5)
    second = desk.answerer().ask(CRANE, top_k=5)
    assert not second.degraded and counter.value == 4
