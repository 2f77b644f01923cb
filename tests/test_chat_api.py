"""/v1 (OpenAI-compatible chat) driven by the official `openai` client against the real app,
served by uvicorn on a loopback port, over the sample articles (extractive backend)."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import openai
import pytest
from httpx_sse import connect_sse
from openai.types.chat import ChatCompletionMessageParam

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .misbehaving_server import misbehaving_server, provider_settings
from .support.live_server import serve
from .support.patience import PATIENCE_S
from .support.samples import load_samples
from .support.stored import stored_article

pytestmark = [
    pytest.mark.both_stores,
    pytest.mark.vector_stores,
    pytest.mark.lexical_stores,
]  # store-facing: each store kind

CRANE = "How many people were killed when the crane fell in Mecca?"
CRANE_ID = "wikinews-2015-mecca-crane-collapse"
NATO_ID = "nato-no-fly-zone-stoltenberg"


@pytest.fixture(scope="module")
def client(sample_url: str) -> openai.OpenAI:
    # A key is required by the client, not by the service (no NEWSDESK_API_KEYS here).
    return openai.OpenAI(base_url=f"{sample_url}/v1", api_key="unused", max_retries=0)


def _newsdesk(obj: Any) -> dict[str, Any]:
    extra = obj.model_extra or {}
    assert "newsdesk" in extra, "the response lacks the newsdesk field"
    return extra["newsdesk"]


def _assert_quotes_exact(desk: Newsdesk, answer: dict[str, Any]) -> None:
    assert answer["citations"]
    for citation in answer["citations"]:
        article = stored_article(desk.store, citation["article_id"])
        text = article.text
        assert text[citation["char_start"] : citation["char_end"]] == citation["quote"]


def test_models_lists_newsdesk(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["newsdesk"]
    assert models.data[0].owned_by == "newsdesk" and models.data[0].object == "model"
    assert client.models.retrieve("newsdesk").id == "newsdesk"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    body = caught.value.body
    assert isinstance(body, dict), body
    assert body["code"] == "model_not_found"


def test_answer_carries_markers_sources_and_the_newsdesk_field(
    client: openai.OpenAI, sample_desk: Newsdesk
) -> None:
    # A front end's default model name is accepted; the response names newsdesk.
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": CRANE},
        ],
        temperature=0.3,
        top_p=0.9,  # accepted and ignored
    )
    assert response.object == "chat.completion" and response.model == "newsdesk"
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    answer = _newsdesk(response)
    assert answer["question"] == CRANE == answer["conversation_question"]
    assert answer["rewrite"] == "as asked" and not answer["abstained"]
    assert answer["citations"][0]["article_id"] == CRANE_ID
    _assert_quotes_exact(sample_desk, answer)

    content = choice.message.content
    assert content is not None
    assert content.startswith(answer["answer"] + "\n\nSources:\n[1] ")
    assert "[1]" in answer["answer"] and "107" in answer["answer"]
    first = answer["citations"][0]
    source_line = content.split("\n\nSources:\n", 1)[1].splitlines()[0]
    assert source_line.startswith(f'[1] {first["title"]} (2015-09-12) — {first["url"]} — "')
    assert first["quote"][:40] in source_line

    usage = response.usage
    assert usage is not None
    assert usage.prompt_tokens >= len(CRANE.split())
    assert usage.completion_tokens >= len(content.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_stream_reassembles_the_same_reply(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": [{"type": "text", "text": CRANE}]}
    ]
    plain = client.chat.completions.create(model="newsdesk", messages=messages)
    chunks = list(
        client.chat.completions.create(
            model="newsdesk",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    first, *middle, final, usage = chunks
    assert first.choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content for c in middle]
    assert len(deltas) >= 2 and all(deltas)  # answer sentence(s), then the sources list
    texts = [d for d in deltas if d]  # all of them (just checked), typed as text
    assert texts[-1].startswith("\n\nSources:\n[1] ")
    assert "".join(texts) == plain.choices[0].message.content
    assert final.choices[0].finish_reason == "stop"
    assert final.choices[0].delta.content is None and final.choices[0].delta.role is None
    answer = _newsdesk(final)
    assert answer["answer"] == _newsdesk(plain)["answer"]
    assert answer["citations"][0]["article_id"] == CRANE_ID
    assert usage.choices == [] and usage.usage is not None and usage.usage.total_tokens > 0
    assert plain.usage is not None
    assert usage.usage.completion_tokens == plain.usage.completion_tokens


def test_stream_ends_with_done_on_the_wire(sample_url: str) -> None:
    body = {"model": "newsdesk", "stream": True, "messages": [{"role": "user", "content": CRANE}]}
    with (
        httpx.Client(timeout=PATIENCE_S) as http,
        connect_sse(http, "POST", f"{sample_url}/v1/chat/completions", json=body) as source,
    ):
        r = source.response
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = list(source.iter_sse())
    assert {e.event for e in events} == {"message"}  # data-only events, as OpenAI sends them
    data = [e.data for e in events]
    assert data[-1] == "[DONE]"
    assert "usage" not in json.loads(data[-2])  # not asked for
    assert "newsdesk" in json.loads(data[-2])


def test_follow_up_is_rewritten_and_answered_from_the_right_article(
    client: openai.OpenAI, sample_desk: Newsdesk
) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": "How did Stoltenberg describe Zelenskyy?"}
    ]
    first = client.chat.completions.create(model="newsdesk", messages=messages)
    assert _newsdesk(first)["citations"][0]["article_id"] == NATO_ID
    messages += [
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": "And how did Biden describe him?"},
    ]
    follow_up = client.chat.completions.create(model="newsdesk", messages=messages)
    answer = _newsdesk(follow_up)
    assert answer["conversation_question"] == "And how did Biden describe him?"
    assert "Zelenskyy" in answer["question"] and "Biden" in answer["question"]
    assert answer["rewrite"] == "rules"  # the extractive backend has no LLM
    assert not answer["abstained"], answer["abstain_reason"]
    assert answer["citations"][0]["article_id"] == NATO_ID
    assert "tough negotiator" in answer["answer"]
    _assert_quotes_exact(sample_desk, answer)


def test_elliptical_follow_up_carries_the_earlier_topic(client: openai.OpenAI) -> None:
    messages: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": CRANE},
        {"role": "assistant", "content": "At least 107 people were killed [1]."},
        {"role": "user", "content": "How many were injured?"},
    ]
    answer = _newsdesk(client.chat.completions.create(model="newsdesk", messages=messages))
    assert "Mecca" in answer["question"]
    assert not answer["abstained"], answer["abstain_reason"]
    assert answer["citations"][0]["article_id"] == CRANE_ID
    assert "238" in answer["answer"]


@pytest.mark.parametrize(
    ("messages", "extra", "param"),
    [
        ([{"role": "system", "content": "Be brief."}], {}, "messages"),
        ([], {}, "messages"),
        ([{"role": "tool", "content": "42"}], {}, "messages.0.role"),
        ([{"role": "user", "content": "   "}], {}, "messages.0.content"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}],
            {},
            "messages.0.content",
        ),
        ([{"role": "user", "content": "x" * 2001}], {}, "messages.0.content"),
        ([{"role": "user", "content": CRANE}], {"n": 2}, "n"),
        ([{"role": "user", "content": CRANE}], {"temperature": 5}, "temperature"),
        ([{"role": "user", "content": CRANE}], {"max_tokens": 0}, "max_tokens"),
    ],
)
def test_bad_requests_are_openai_errors(
    client: openai.OpenAI, messages: list[dict[str, Any]], extra: dict[str, Any], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        # Deliberately malformed messages (and extra values), which the service must refuse.
        client.chat.completions.create(model="newsdesk", messages=messages, **extra)  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict), error
    assert caught.value.status_code == 400
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param


def test_errors_keep_their_shape_on_and_off_v1(sample_url: str) -> None:
    missing = httpx.get(f"{sample_url}/v1/no-such-route", timeout=PATIENCE_S)
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (GET /v1/no-such-route)"
    not_json = httpx.post(
        f"{sample_url}/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
        timeout=PATIENCE_S,
    )
    assert not_json.status_code == 400 and not_json.json()["error"]["type"]
    # The rest of the API still answers with RFC 9457 problems.
    problem = httpx.post(f"{sample_url}/ask", json={}, timeout=PATIENCE_S)
    assert problem.status_code == 422
    assert problem.headers["content-type"] == "application/problem+json"
    assert problem.json()["status"] == 422


def test_health_reports_backend_and_llm_state(sample_url: str) -> None:
    health = httpx.get(f"{sample_url}/health", timeout=PATIENCE_S).json()
    assert health["backend"] == "extractive" and health["llm"] == "none"


def test_health_reports_an_llm_that_is_not_started_then_unavailable(
    tmp_path, embedder: Embedder
) -> None:
    # A local backend whose model file does not exist: it cannot start, and /health must say
    # so only after the first question tried (reading the state never starts it).
    settings = Settings(
        data_dir=tmp_path / "data",
        backend="local",
        local_model_path=tmp_path / "missing.gguf",
        _env_file=None,
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        serve(create_app(settings, desk=desk)) as url,
    ):
        assert httpx.get(f"{url}/health", timeout=PATIENCE_S).json()["llm"] == "not started"
        assert desk._answerer is None
        desk.ingestor.ingest(load_samples()[4:5])  # the crane article
        chat = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = chat.chat.completions.create(
            model="newsdesk", messages=[{"role": "user", "content": CRANE}]
        )
        answer = _newsdesk(reply)
        assert answer["degraded"] and answer["backend"] == "extractive"
        state = httpx.get(f"{url}/health", timeout=PATIENCE_S).json()["llm"]
        assert state.startswith("unavailable: ")


@pytest.mark.parametrize(
    ("generated", "abstains"),
    [
        (
            "A storm made a crane fall into Mecca's Grand Mosque, killing 107 people [1]. "
            "The crane fell ten days before the Hajj [1]. "
            "Construction was underway at the mosque [1].",
            False,
        ),
        # Sentences go out before the whole answer is judged; when the check then abstains,
        # the reply says so after what was already sent.
        (
            "The Saudi king resigned the next day [2]. The moon is made of green cheese [1]. "
            "Penguins can fly [1].",
            True,
        ),
    ],
)
def test_llm_answers_stream_sentence_by_sentence(
    tmp_path, embedder: Embedder, generated: str, abstains: bool
) -> None:
    # The provider is genuinely external: a real loopback server plays it.
    with misbehaving_server("ok", text=generated) as (provider_url, requests):
        settings = provider_settings(tmp_path / "data", provider_url)
        with (
            Newsdesk.open(settings, embedder=embedder) as desk,
            serve(create_app(settings, desk=desk)) as url,
        ):
            desk.ingestor.ingest([s for s in load_samples() if s.id == CRANE_ID])
            chat = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            chunks = list(
                chat.chat.completions.create(
                    model="newsdesk", messages=[{"role": "user", "content": CRANE}], stream=True
                )
            )
    assert requests.value == 1  # a first question needs no rewrite
    answer = _newsdesk(chunks[-1])
    assert answer["backend"] == "openai" and answer["abstained"] is abstains
    deltas = [c.choices[0].delta.content for c in chunks[1:-1]]
    if abstains:
        assert deltas[-1] == f"\n\nCorrection — the checked answer is: {answer['answer']}"
        # sent before the check abstained
        assert deltas[0] is not None and re.search(r"\[\d+\]", deltas[0])
    else:
        sentences = [s for s in deltas[:-1] if s is not None]
        assert sentences == deltas[:-1]  # every sentence's delta carries text
        sources = deltas[-1]
        assert sources is not None
        assert len(sentences) == 3 and all(re.search(r"\[\d+\]", s) for s in sentences)
        assert "".join(sentences) == answer["answer"]
        assert sources.startswith("\n\nSources:\n[1] At least 107 killed")


@pytest.mark.parametrize(("mode", "used"), [("auto", "llm"), ("rules", "rules")])
def test_follow_ups_are_rewritten_by_the_provider_unless_told_not_to(
    tmp_path, embedder: Embedder, mode: str, used: str
) -> None:
    # The provider answers every request with the same text: as a rewrite it is plausible.
    rewritten = "How did Biden describe Zelenskyy?"
    with misbehaving_server("ok", text=rewritten) as (provider_url, requests):
        settings = provider_settings(tmp_path / "data", provider_url, chat_rewrite=mode)
        with (
            Newsdesk.open(settings, embedder=embedder) as desk,
            serve(create_app(settings, desk=desk)) as url,
        ):
            chat = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            reply = chat.chat.completions.create(
                model="newsdesk",
                messages=[
                    {"role": "user", "content": "How did Stoltenberg describe Zelenskyy?"},
                    {"role": "assistant", "content": "As a relentless advocate [1]."},
                    {"role": "user", "content": "And how did Biden describe him?"},
                ],
            )
            llm_state = httpx.get(f"{url}/health", timeout=PATIENCE_S).json()["llm"]
    assert llm_state == "ready"  # the provider's client exists once a question came in
    answer = _newsdesk(reply)
    assert answer["rewrite"] == used and answer["question"] == rewritten
    # Empty collection: the answer abstains before generating, so only a rewrite calls out.
    assert requests.value == (1 if used == "llm" else 0)


def test_sampling_options_reach_the_provider_capped_at_the_configured_limit(
    tmp_path, embedder: Embedder
) -> None:
    configured = 64
    with misbehaving_server("ok") as (provider_url, requests):
        settings = provider_settings(
            tmp_path / "data", provider_url, llm_max_tokens=configured, llm_temperature=0.2
        )
        with (
            Newsdesk.open(settings, embedder=embedder) as desk,
            serve(create_app(settings, desk=desk)) as url,
        ):
            desk.ingestor.ingest([s for s in load_samples() if s.id == CRANE_ID])
            chat = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
            create = chat.chat.completions.create
            messages: Any = [{"role": "user", "content": CRANE}]
            # A request cannot raise the configured cap; it can lower it.
            create(model="newsdesk", messages=messages, max_tokens=configured * 10, temperature=1.5)
            list(create(model="newsdesk", messages=messages, max_completion_tokens=16, stream=True))
            create(model="newsdesk", messages=messages, top_p=0.5)  # ignored: configured values
    sent = [(b["max_tokens"], b["temperature"], b.get("stream", False)) for b in requests.bodies]
    assert sent == [(configured, 1.5, False), (16, 0.2, True), (configured, 0.2, False)]
