"""The LLM layer against real servers: a misbehaving OpenAI imitation on loopback (every
failure must become an LLMError), and the embedded llama.cpp server with the packaged Gemma 3
270M model (marked ``llm``).

Gemma 3 270M is a small *base* model: prompts are one-shot completions ("Question: …
Answer:") sent as a single user message, not instructions.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from newsdesk.generation.llm import Completion, LLMError, OpenAIChatModel
from newsdesk.generation.local_server import LocalChatModel, LocalLlamaServer, _child_environment
from newsdesk.generation.prompting import answerability_messages
from newsdesk.generation.story_judge import yes_log_odds
from newsdesk.settings import Settings
from tests.misbehaving_server import DEFAULT_TEXT, MODEL, misbehaving_server
from tests.support.patience import LLM_PATIENCE_S, PATIENCE_S

MESSAGES = [{"role": "user", "content": "Say something."}]


def _model(
    base_url: str,
    *,
    timeout: float = PATIENCE_S,
    max_retries: int = 0,
    stream_completions: bool = False,
) -> OpenAIChatModel:
    return OpenAIChatModel(
        base_url=base_url,
        api_key=None,
        model=MODEL,
        timeout=timeout,
        max_retries=max_retries,
        stream_completions=stream_completions,
    )


def _complete(model: OpenAIChatModel) -> Completion:
    return model.complete(MESSAGES, max_tokens=32, temperature=0.0)


# --- a misbehaving OpenAI-compatible server -----------------------------------------------


def test_ok_completion() -> None:
    with misbehaving_server("ok") as (base_url, counter):
        completion = _complete(_model(base_url))
    assert completion.text == DEFAULT_TEXT
    assert completion.model == MODEL
    assert completion.finish_reason == "stop"
    assert completion.prompt_tokens == 7
    assert completion.completion_tokens == len(DEFAULT_TEXT.split())
    assert counter.value == 1


def test_flaky_server_succeeds_within_retries() -> None:
    with misbehaving_server("flaky", fail_times=2) as (base_url, counter):
        completion = _complete(_model(base_url, max_retries=2))
    assert completion.text == DEFAULT_TEXT
    assert counter.value == 3


def test_persistent_500_raises_after_all_retries() -> None:
    with (
        misbehaving_server("error500") as (base_url, counter),
        pytest.raises(LLMError, match="HTTP 500"),
    ):
        _complete(_model(base_url, max_retries=2))
    assert counter.value == 1 + 2


def test_hanging_server_times_out_promptly() -> None:
    with misbehaving_server("hang") as (base_url, _):  # answers after PATIENCE_S
        started = time.monotonic()
        with pytest.raises(LLMError, match="timed out"):
            _complete(_model(base_url, timeout=1, max_retries=0))
        elapsed = time.monotonic() - started
    # The 1 s timeout ended the call, not the server's answer (after PATIENCE_S) nor a default
    # timeout (60 s and more); the margin is for a busy machine, where a timer may fire late.
    assert elapsed < 30


def test_timed_out_request_is_not_sent_again() -> None:
    # The server may still be working on it: a retry would queue the same prompt twice.
    with misbehaving_server("hang") as (base_url, counter):
        with pytest.raises(LLMError, match="timed out"):
            _complete(_model(base_url, timeout=1, max_retries=2))
        assert counter.value == 1


def test_slow_server_that_keeps_writing_is_waited_for_when_completions_stream() -> None:
    # Nine tokens 0.3 s apart: ~3 s in all, each under the 1 s timeout.
    with misbehaving_server("slow") as (base_url, counter):
        with pytest.raises(LLMError, match="timed out"):
            _complete(_model(base_url, timeout=1))  # one JSON body, after ~3 s
        streamed = _complete(_model(base_url, timeout=1, stream_completions=True))
        assert counter.value == 2
    assert streamed.text == DEFAULT_TEXT
    assert streamed.finish_reason == "stop"


def test_streamed_completion_cut_off_raises() -> None:
    with (
        misbehaving_server("broken_stream") as (base_url, _),
        pytest.raises(LLMError, match="ended before the answer was finished"),
    ):
        _complete(_model(base_url, stream_completions=True))


def test_rate_limited_request_is_retried_after_the_pause_asked() -> None:
    with misbehaving_server("rate_limited", fail_times=2) as (base_url, counter):
        completion = _complete(_model(base_url, max_retries=2))
    assert completion.text == DEFAULT_TEXT
    assert counter.value == 3


def test_client_error_is_not_retried() -> None:
    with (
        misbehaving_server("bad_request") as (base_url, counter),
        pytest.raises(LLMError, match="HTTP 400"),
    ):
        _complete(_model(base_url, max_retries=2))
    assert counter.value == 1


def test_non_json_body_raises() -> None:
    with (
        misbehaving_server("garbage") as (base_url, _),
        pytest.raises(LLMError, match="not valid JSON"),
    ):
        _complete(_model(base_url))


def test_completion_without_choices_raises() -> None:
    with (
        misbehaving_server("no_choices") as (base_url, _),
        pytest.raises(LLMError, match="without choices"),
    ):
        _complete(_model(base_url))


def test_unreachable_endpoint_raises() -> None:
    with misbehaving_server("ok") as (base_url, _):
        pass  # the port is closed again once the server has shut down
    with pytest.raises(LLMError, match="could not reach"):
        _complete(_model(base_url))


def test_stream_deltas_concatenate_to_the_full_text() -> None:
    with misbehaving_server("ok") as (base_url, _):
        deltas = list(_model(base_url).stream(MESSAGES, max_tokens=32, temperature=0.0))
    assert len(deltas) == len(DEFAULT_TEXT.split())
    assert "".join(deltas) == DEFAULT_TEXT


def test_stream_cut_off_before_finish_raises_after_partial_deltas() -> None:
    # Defined behaviour: deltas received so far are yielded, then LLMError; the caller
    # discards the partial text and falls back.
    received: list[str] = []
    with (
        misbehaving_server("broken_stream") as (base_url, _),
        pytest.raises(LLMError, match="ended before the answer was finished"),
    ):
        for delta in _model(base_url).stream(MESSAGES, max_tokens=32, temperature=0.0):
            received.append(delta)
    assert received
    assert "".join(received) != DEFAULT_TEXT


def test_stream_with_invalid_json_raises() -> None:
    with (
        misbehaving_server("invalid_stream") as (base_url, _),
        pytest.raises(LLMError, match="not valid JSON"),
    ):
        list(_model(base_url).stream(MESSAGES, max_tokens=32, temperature=0.0))


def test_stream_from_failing_server_raises() -> None:
    with (
        misbehaving_server("error500") as (base_url, counter),
        pytest.raises(LLMError, match="HTTP 500"),
    ):
        list(_model(base_url, max_retries=1).stream(MESSAGES, max_tokens=8, temperature=0))
    assert counter.value == 2


def test_settings_select_the_openai_endpoint() -> None:
    settings = Settings(
        openai_base_url="http://127.0.0.1:9/v1",
        openai_model="some-model",
        llm_max_retries=0,
        _env_file=None,
    )
    model = OpenAIChatModel.from_settings(settings)
    assert model.name == "some-model"
    assert model.base_url.startswith("http://127.0.0.1:9/v1")


# --- the embedded llama.cpp server ----------------------------------------------------------


def test_child_environment_drops_the_servers_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    # llama_cpp.server reads unprefixed HOST/PORT/API_KEY/… and HOST beats --host.
    for name in ("HOST", "port", "API_KEY", "CONFIG_FILE", "N_CTX"):
        monkeypatch.setenv(name, "0.0.0.0")
    monkeypatch.setenv("NEWSDESK_KEEP_ME", "1")
    env = _child_environment()
    assert not {"HOST", "port", "API_KEY", "CONFIG_FILE", "N_CTX"} & env.keys()
    assert env["NEWSDESK_KEEP_ME"] == "1"


ONE_SHOT = [
    {
        "role": "user",
        "content": "Question: What is the capital of France?\nAnswer: Paris\n\n"
        "Question: What is the capital of Italy?\nAnswer:",
    }
]


def _local_settings(data_dir: Path, **overrides: Any) -> Settings:
    # On a busy machine the model takes long to start and to answer: a ceiling, not a delay.
    options: dict[str, Any] = {
        "local_startup_seconds": LLM_PATIENCE_S,
        "llm_timeout_seconds": LLM_PATIENCE_S,
        **overrides,
    }
    return Settings(data_dir=data_dir, _env_file=None, **options)


@pytest.fixture(scope="module")
def local_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLlamaServer]:
    server = LocalLlamaServer(_local_settings(tmp_path_factory.mktemp("llm-data")))
    with server:
        yield server


@pytest.fixture(scope="module")
def local_model(local_server: LocalLlamaServer) -> LocalChatModel:
    return local_server.chat_model()


@pytest.mark.llm
def test_local_completion_respects_max_tokens(local_model: LocalChatModel) -> None:
    # The local client reads completions as streams (no token counts in them): a token a
    # chunk, so the stream of the same greedy answer shows the limit held.
    completion = local_model.complete(ONE_SHOT, max_tokens=6, temperature=0.0)
    deltas = list(local_model.stream(ONE_SHOT, max_tokens=6, temperature=0.0))
    assert completion.text.strip()
    assert completion.text == "".join(deltas)
    assert 0 < len(deltas) <= 6
    assert completion.finish_reason in {"stop", "length"}


@pytest.mark.llm
def test_local_stop_sequence_cuts_output(local_model: LocalChatModel) -> None:
    unstopped = local_model.complete(ONE_SHOT, max_tokens=16, temperature=0.0)
    words = unstopped.text.split()
    assert len(words) >= 3, unstopped.text
    stop = " " + words[2]  # a word the model writes, wherever an instruct model ends
    stopped = local_model.complete(ONE_SHOT, max_tokens=16, temperature=0.0, stop=[stop])
    assert stop not in stopped.text and stopped.text.strip()
    # Greedy decoding: the same text up to the stop string, and nothing after it.
    assert stopped.text == unstopped.text[: unstopped.text.index(stop)]
    assert stopped.finish_reason == "stop"


@pytest.mark.llm
def test_local_stream_yields_several_deltas(local_model: LocalChatModel) -> None:
    deltas = list(local_model.stream(ONE_SHOT, max_tokens=8, temperature=0.0))
    assert len(deltas) >= 3
    assert "".join(deltas).strip()


@pytest.mark.llm
def test_packaged_model_is_assembled_once(local_server: LocalLlamaServer) -> None:
    model = local_server.model_file()
    before = model.stat().st_mtime_ns
    assert local_server.model_file() == model
    assert model.stat().st_mtime_ns == before
    assert not list(model.parent.glob("*.partial"))


@pytest.mark.llm
def test_stop_ends_the_process_and_frees_the_port(
    local_server: LocalLlamaServer, tmp_path: Path
) -> None:
    # Reuse the assembled model so this second server only pays for loading it.
    settings = _local_settings(tmp_path, local_model_path=local_server.model_file())
    server = LocalLlamaServer(settings)
    server.start()
    models_url = f"{server.base_url}/models"
    assert httpx.get(models_url, timeout=PATIENCE_S, trust_env=False).status_code == 200
    server.stop()
    assert not server.running
    with pytest.raises(httpx.ConnectError):
        httpx.get(models_url, timeout=PATIENCE_S, trust_env=False)  # refused at once
    server.stop()  # idempotent


@pytest.mark.llm
def test_a_file_that_is_not_gguf_fails_fast(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"this is not a GGUF model\n" * 1000)
    server = LocalLlamaServer(_local_settings(tmp_path / "data", local_model_path=bogus))
    started = time.monotonic()
    with pytest.raises(LLMError, match="exited with code"):
        server.start()
    # Seen when the process exits, not when the startup ceiling (LLM_PATIENCE_S) runs out.
    assert time.monotonic() - started < LLM_PATIENCE_S / 2
    assert not server.running


@pytest.mark.llm
def test_a_missing_model_file_is_reported(tmp_path: Path) -> None:
    server = LocalLlamaServer(_local_settings(tmp_path, local_model_path=tmp_path / "no.gguf"))
    with pytest.raises(LLMError, match="does not exist"):
        server.start()


@pytest.mark.llm
def test_the_local_server_gives_the_first_tokens_log_probabilities(
    local_model: LocalChatModel,
) -> None:
    messages = answerability_messages(
        "Who is in temporary charge of Leyton Orient?",
        ["Leyton Orient interim manager Andy Hessenthaler praised the players."],
    )
    completion = local_model.complete(messages, max_tokens=1, temperature=0.0, top_logprobs=10)
    alternatives = completion.first_token_logprobs
    assert alternatives is not None and len(alternatives) >= 2, alternatives
    assert all(p <= 0.0 for p in alternatives.values())
    # The reply token itself is the most likely alternative (greedy decoding).
    assert max(alternatives, key=alternatives.__getitem__).strip() == completion.text.strip()
    assert yes_log_odds(alternatives) is not None or "yes" not in completion.text.lower()
