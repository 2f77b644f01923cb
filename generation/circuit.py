"""A circuit breaker in front of a chat model, so that a failing provider is not hammered.

After ``failures`` consecutive failed calls (each already retried by the client) the circuit
*opens*: calls fail at once with :class:`LLMUnavailable` — no network — and answers fall back
to the extractive backend, saying why. After ``cooldown`` seconds one *trial* call may go
through (half-open), made without the client's retries so that it costs a recovering provider
one request; its success closes the circuit, its failure opens it for another cool-down.
Calls that fail without reaching the LLM (a restarting local server) count for nothing.

Written here rather than taken from pybreaker or circuitbreaker: both run every call under one
lock (or decorate functions), while LLM calls here are long, concurrent and often streams whose
success is known only at their last chunk.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal

from newsdesk.generation.llm import ChatModel, Completion, LLMError, LLMUnavailable

CircuitState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """The breaker's state, shared by all calls (thread-safe)."""

    def __init__(
        self,
        *,
        failures: int,
        cooldown: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._last_error = ""

    @property
    def state(self) -> CircuitState:
        with self._lock:
            return self._state()

    def describe(self) -> str | None:
        """``None`` while closed; otherwise why and until when it is open."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half-open":
                wait = "a trial call is running" if self._trial_running else "next call is a trial"
            else:
                assert self._opened_at is not None
                left = self._opened_at + self._cooldown - self._clock()
                wait = f"trial call in {max(left, 0):.0f}s"
            return (
                f"{self._failures} consecutive LLM calls failed, {wait}; "
                f"last error: {self._last_error}"
            )

    def admit(self) -> bool:
        """Let a call through (``True`` if it is the half-open trial) or raise LLMUnavailable."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return False
            if state == "half-open" and not self._trial_running:
                self._trial_running = True
                return True
            raise LLMUnavailable(
                f"LLM circuit open after {self._failures} consecutive failures "
                f"(last: {self._last_error})"
            )

    def succeeded(self, trial: bool) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            if trial:
                self._trial_running = False

    def failed(self, error: LLMError, trial: bool) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = str(error)
            if trial or self._failures >= self._threshold:
                self._opened_at = self._clock()
            if trial:
                self._trial_running = False

    def abandoned(self, trial: bool) -> None:
        """A call ended without telling success from failure (a stream closed early, or the
        LLM was not reached): the trial slot is free again."""
        if trial:
            with self._lock:
                self._trial_running = False

    def _state(self) -> CircuitState:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self._cooldown:
            return "half-open"
        return "open"


class BreakerChatModel:
    """A :class:`ChatModel` whose calls pass through a :class:`CircuitBreaker`. ``trial`` is
    the model used for the half-open trial call (the same one without retries)."""

    def __init__(
        self, inner: ChatModel, breaker: CircuitBreaker, trial: ChatModel | None = None
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.breaker = breaker
        self._trial = trial or inner

    def complete(self, messages: list[dict[str, str]], **options: Any) -> Completion:
        trial = self.breaker.admit()
        model = self._trial if trial else self.inner
        try:
            completion = model.complete(messages, **options)
        except LLMUnavailable:
            self.breaker.abandoned(trial)
            raise
        except LLMError as exc:
            self.breaker.failed(exc, trial)
            raise
        self.breaker.succeeded(trial)
        return completion

    def stream(self, messages: list[dict[str, str]], **options: Any) -> Iterator[str]:
        trial = self.breaker.admit()
        model = self._trial if trial else self.inner
        outcome = False
        try:
            yield from model.stream(messages, **options)
        except LLMUnavailable:
            raise
        except LLMError as exc:
            outcome = True
            self.breaker.failed(exc, trial)
            raise
        else:
            outcome = True
            self.breaker.succeeded(trial)
        finally:
            if not outcome:
                self.breaker.abandoned(trial)
