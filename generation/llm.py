"""Chat-model access. Every backend that writes answers speaks the OpenAI chat API, so all
generation goes through the official ``openai`` client: the hosted API, vLLM, Ollama and the
embedded llama.cpp server alike.

Any failure — timeout, refused connection, HTTP error after the client's own retries, a body
that is not a chat completion, a stream that breaks off — surfaces as one exception,
:class:`LLMError`, whose message says what went wrong. Callers catch only that and fall back to
an extractive answer (reported as ``degraded``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import openai
from openai.types.chat import ChatCompletion

from newsdesk.metrics import LlmMetrics
from newsdesk.settings import Settings

_BODY_PREVIEW_CHARS = 200
# What a misbehaving endpoint can make the client raise: its own errors (timeouts, refused
# connections, HTTP statuses) and ValueError (undecodable JSON, bodies pydantic rejects).
# Anything else is a bug here and should not be disguised as a degraded answer.
_FAILURES = (openai.OpenAIError, ValueError)
# Statuses a server answers without having done the work, or that ask for a retry: retried.
_RETRY_STATUSES = frozenset({408, 409, 429})
# Timeouts before the request was sent (the server never saw it): retried. A read timeout is
# not: the server may still be working on the prompt, and sending it again would queue it
# twice (a local llama.cpp server works on one request at a time).
# By class name: the client raises them from its own HTTP library (httpx2, or legacy httpx).
_UNSENT_TIMEOUTS = frozenset({"ConnectTimeout", "PoolTimeout"})
_RETRY_AFTER_CAP_S = 60.0
_BACKOFF_FIRST_S = 0.5
_BACKOFF_CAP_S = 8.0
T = TypeVar("T")
log = logging.getLogger(__name__)


class LLMError(Exception):
    """A chat model could not produce an answer; the message says why."""


class LLMUnavailable(LLMError):
    """The call failed at once without reaching the LLM: its server is restarting or its
    circuit is open. Not a failure *of* the LLM, so it neither counts towards opening the
    circuit nor becomes the "last error" that /health reports as `failing`."""


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    # With `top_logprobs` asked for: the most likely first tokens of the reply and their log
    # probabilities (the LLM story judge reads yes against no there); None otherwise.
    first_token_logprobs: dict[str, float] | None = None


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling options of one request; ``None`` keeps the configured value. A request may
    lower the configured token limit, never raise it."""

    temperature: float | None = None
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"temperature must be at least 0, not {self.temperature}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, not {self.max_tokens}")

    def temperature_or(self, configured: float) -> float:
        return configured if self.temperature is None else self.temperature

    def max_tokens_within(self, limit: int) -> int:
        return limit if self.max_tokens is None else min(self.max_tokens, limit)


class ChatModel(Protocol):
    name: str

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
        timeout: float | None = None,
        json_output: bool = False,
        top_logprobs: int | None = None,
    ) -> Completion: ...

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
    ) -> Iterator[str]: ...


class MonitoredChatModel:
    """Passes calls through and remembers whether the last one failed, so /health can say
    that the LLM is failing (and answers are falling back) before anyone reads an answer."""

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name = inner.name
        self.last_error: str | None = None
        self.metrics = LlmMetrics(unavailable=LLMUnavailable)  # read by /metrics

    def complete(self, messages: list[dict[str, str]], **options: Any) -> Completion:
        with self._monitored("complete"):
            return self.inner.complete(messages, **options)

    def stream(self, messages: list[dict[str, str]], **options: Any) -> Iterator[str]:
        with self._monitored("stream"):
            yield from self.inner.stream(messages, **options)

    @contextmanager
    def _monitored(self, call: str) -> Iterator[None]:
        """Times the call and remembers how it ended (both kinds of call alike): its error,
        or None once it succeeds. A call refused before reaching the LLM (LLMUnavailable)
        leaves the last outcome as it was; a stream its reader stops leaves it too."""
        try:
            with self.metrics.timed(call):
                yield
        except LLMUnavailable:
            raise
        except LLMError as exc:
            self.last_error = str(exc)
            raise
        self.last_error = None


class OpenAIChatModel:
    """A :class:`ChatModel` backed by any OpenAI-compatible ``/v1/chat/completions``."""

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        timeout: float,
        max_retries: int,
        stream_completions: bool = False,
    ) -> None:
        self.name = model
        self._timeout = timeout
        self._arguments: dict[str, Any] = {
            "base_url": base_url,
            "api_key": api_key,
            "model": model,
            "timeout": timeout,
            "stream_completions": stream_completions,
        }
        self._max_retries = max_retries
        # Whether `complete` reads the answer as a stream: then `timeout` bounds the wait for
        # the first token and each later one (progress), not the whole answer, so a slow
        # server that keeps writing is not cut off (and its prompt re-queued) at a fixed total.
        self._stream_completions = stream_completions
        # Local servers ignore the key, but the client refuses to start without one. The
        # client's own retries are off: it would also re-send a request that timed out while
        # the server was still working on it (see `_retrying`).
        self._client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or "not-needed",
            timeout=timeout,
            max_retries=0,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIChatModel:
        return cls(
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key,
            model=settings.openai_model,
            timeout=settings.llm_timeout_seconds,
            max_retries=settings.llm_max_retries,
        )

    @property
    def base_url(self) -> str:
        return str(self._client.base_url)

    def single_attempt(self) -> OpenAIChatModel:
        """The same model without the client's retries: a circuit breaker's trial call should
        cost a recovering provider one request, not a burst."""
        return OpenAIChatModel(**self._arguments, max_retries=0)

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
        timeout: float | None = None,
        json_output: bool = False,
        top_logprobs: int | None = None,
    ) -> Completion:
        """One completion. ``timeout``: this call's own limit, and a single attempt (a call
        with a deadline must not retry past it). ``json_output``: ask for a JSON object
        (``response_format``; llama.cpp then constrains the output to JSON).
        ``top_logprobs``: ask for that many alternatives of each reply token with their log
        probabilities (the first token's are in ``first_token_logprobs``)."""
        request = self._request(messages, max_tokens, temperature, stop)
        if json_output:
            request["response_format"] = {"type": "json_object"}
        if top_logprobs is not None:
            request["logprobs"] = True
            request["top_logprobs"] = top_logprobs
        try:
            if timeout is not None:
                client = self._client.with_options(timeout=timeout)
                response = client.chat.completions.create(**request)
            elif self._stream_completions and top_logprobs is None:
                return self._complete_streamed(request)
            else:
                response = self._retrying(lambda: self._client.chat.completions.create(**request))
        except _FAILURES as exc:
            raise self._error(exc, timeout) from exc
        return _to_completion(response, self.name)

    def stream(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int,
        temperature: float,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield text deltas as they arrive.

        A stream counts as complete only once a chunk carries a ``finish_reason``: the client
        hides the ``[DONE]`` sentinel and ends iteration silently when the connection closes,
        so that is the only way to tell a finished answer from a truncated one. A stream that
        ends without it raises :class:`LLMError` after the deltas already yielded — callers
        must then discard that partial text.
        """
        request = self._request(messages, max_tokens, temperature, stop)
        try:
            for text, _, _ in self._pieces(request):
                if text:
                    yield text
        except _FAILURES as exc:
            raise self._error(exc) from exc

    def _pieces(self, request: dict[str, Any]) -> Iterator[tuple[str, str | None, str | None]]:
        """``(text, finish_reason, model)`` of each streamed choice; LLMError when the stream
        ends without a finish_reason (the caller maps the client's errors)."""
        finished = False
        # Retried until the response starts, never once text has been yielded.
        opened = self._retrying(
            lambda: self._client.chat.completions.create(**request, stream=True)
        )
        with opened as chunks:
            for chunk in chunks:
                for choice in getattr(chunk, "choices", None) or []:
                    finished = finished or choice.finish_reason is not None
                    text = getattr(choice.delta, "content", None) or ""
                    yield text, choice.finish_reason, getattr(chunk, "model", None)
        if not finished:
            raise LLMError(f"LLM stream from {self.base_url} ended before the answer was finished")

    def _complete_streamed(self, request: dict[str, Any]) -> Completion:
        """A completion read as a stream and joined (the caller maps client errors)."""
        parts: list[str] = []
        finish_reason: str | None = None
        model: str | None = None
        for text, reason, chunk_model in self._pieces(request):
            parts.append(text)
            finish_reason = reason or finish_reason
            model = model or chunk_model
        return Completion(
            text="".join(parts),
            model=model or self.name,
            prompt_tokens=None,
            completion_tokens=None,
            finish_reason=finish_reason,
        )

    def _retrying(self, call: Callable[[], T]) -> T:
        """``call``, tried again (up to ``max_retries`` times, with exponential backoff that
        honours Retry-After) after failures where the server did not work on the request:
        refused connections, connect timeouts, 408/409/429 and 5xx. Never after a read
        timeout."""
        for attempt in range(self._max_retries + 1):
            try:
                return call()
            except openai.APIError as exc:
                if attempt == self._max_retries or not _retryable(exc):
                    raise
                pause = _retry_pause(exc, attempt)
                log.info("LLM call failed (%s); retry %d in %.2f s", exc, attempt + 1, pause)
                time.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _request(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
    ) -> dict[str, Any]:
        # `max_tokens` rather than `max_completion_tokens`: every OpenAI-compatible server
        # (llama.cpp, vLLM, Ollama) understands it.
        request: dict[str, Any] = {
            "model": self.name,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
        }
        if stop:
            request["stop"] = stop
        return request

    def _error(self, exc: Exception, timeout: float | None = None) -> LLMError:
        limit = self._timeout if timeout is None else timeout
        return LLMError(f"{_describe(exc, limit)} (endpoint {self.base_url})")


def _retryable(exc: openai.APIError) -> bool:
    if isinstance(exc, openai.APITimeoutError):
        return type(exc.__cause__).__name__ in _UNSENT_TIMEOUTS
    if isinstance(exc, openai.APIConnectionError):
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRY_STATUSES or exc.status_code >= 500
    return False


def _retry_pause(exc: openai.APIError, attempt: int) -> float:
    """The server's Retry-After (``retry-after-ms`` or seconds) when it gives a sane one,
    else 0.5 s doubling up to 8 s, with jitter so that clients do not retry in step."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            asked = float(headers.get(name, "")) * scale
        except ValueError:
            continue
        if 0 <= asked <= _RETRY_AFTER_CAP_S:
            return asked
    return min(_BACKOFF_FIRST_S * 2**attempt, _BACKOFF_CAP_S) * random.uniform(0.75, 1.0)


def _describe(exc: Exception, timeout: float) -> str:
    """One line saying what failed, for logs and the ``degraded`` note."""
    # Order matters: APITimeoutError is an APIConnectionError.
    if isinstance(exc, openai.APITimeoutError):
        return f"LLM request timed out after {timeout:g}s"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not reach the LLM endpoint: {exc}"
    if isinstance(exc, openai.APIStatusError):
        return f"LLM endpoint answered HTTP {exc.status_code}: {_preview(exc.body)}"
    if isinstance(exc, openai.APIResponseValidationError):
        return f"LLM endpoint sent a malformed response: {exc}"
    if isinstance(exc, ValueError):  # json.JSONDecodeError and pydantic errors included
        return f"LLM endpoint sent a response that is not valid JSON: {exc}"
    return f"LLM request failed ({type(exc).__name__}): {exc}"


def _preview(body: object) -> str:
    text = str(body) if body is not None else "(no body)"
    return text if len(text) <= _BODY_PREVIEW_CHARS else text[:_BODY_PREVIEW_CHARS] + "…"


def _to_completion(response: object, requested_model: str) -> Completion:
    """Check the parsed body really is a chat completion with text in it."""
    # The client returns the raw text when the server does not label its body as JSON.
    if not isinstance(response, ChatCompletion):
        raise LLMError(f"LLM endpoint sent something that is not JSON: {_preview(response)}")
    choices = getattr(response, "choices", None)
    if not choices:
        raise LLMError("LLM endpoint sent a completion without choices")
    choice = choices[0]
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str):
        raise LLMError("LLM endpoint sent a completion without text")
    usage = getattr(response, "usage", None)
    return Completion(
        text=text,
        model=getattr(response, "model", None) or requested_model,
        prompt_tokens=getattr(usage, "prompt_tokens", None),
        completion_tokens=getattr(usage, "completion_tokens", None),
        finish_reason=getattr(choice, "finish_reason", None),
        first_token_logprobs=_first_token_logprobs(choice),
    )


def _first_token_logprobs(choice: object) -> dict[str, float] | None:
    """The alternatives of the reply's first token, when the server sent them."""
    logprobs = getattr(choice, "logprobs", None)
    tokens = getattr(logprobs, "content", None) or []
    if not tokens:
        return None
    alternatives = getattr(tokens[0], "top_logprobs", None) or []
    found = {str(a.token): float(a.logprob) for a in alternatives}
    found.setdefault(str(tokens[0].token), float(tokens[0].logprob))
    return found
