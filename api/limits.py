"""Limits checked before any work is done for a request.

- Body size (413): pure ASGI middleware, so it runs before FastAPI reads or parses a body. A
  `Content-Length` above the route's limit is refused before a byte of the body is read; a
  body sent without one (chunked) is counted as it arrives (O(1) per chunk, nothing buffered
  here) and cut off once it passes the limit: the 413 is sent at once and the app is told the
  client went away, so it stops reading. `Connection: close` ends the connection after it.
- Request rate (429): a token bucket per caller (the API key's name, set by the auth
  middleware on ``scope["state"]["principal"]``; without keys, the client address), in this
  process or, with ``NEWSDESK_REDIS_URL``, in Redis, shared by replicas (shared_limits.py).
- Answer slots (503): how many answers and summaries are composed at once; a request that
  does not get a slot within `llm_queue_seconds` is refused with `Retry-After`.

The middleware runs outside FastAPI's exception handlers, so it renders its refusals itself:
OpenAI error objects under /v1, problem documents elsewhere."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Protocol, TypeVar

from fastapi import Depends, FastAPI, HTTPException, Request
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from newsdesk.api.auth import PUBLIC_PATHS, PUBLIC_PREFIXES
from newsdesk.api.openai_errors import refusal_response
from newsdesk.settings import Settings

UPLOAD_PATH = "/articles/upload"
BATCH_PATH = "/articles"
# max_upload_bytes counts the files' bytes; the multipart framing around them (boundaries,
# part headers) comes on top.
MULTIPART_ALLOWANCE = 2 * 1024 * 1024
# Idle callers' buckets are forgotten once this many callers are tracked.
MAX_TRACKED_CALLERS = 10_000

T = TypeVar("T")


# --- body size ---------------------------------------------------------------------------


def body_limit(settings: Settings, path: str) -> int:
    """The most bytes a request body to ``path`` may have."""
    if path == UPLOAD_PATH:
        return settings.max_upload_bytes + MULTIPART_ALLOWANCE
    if path == BATCH_PATH:
        return settings.max_batch_bytes
    return settings.max_request_bytes


def _too_large(scope: Scope, limit: int) -> Response:
    return refusal_response(
        scope["path"],
        413,
        slug="payload-too-large",
        title="Payload too large",
        detail=f"The request body is larger than {limit:,} bytes, the limit for {scope['path']}.",
        openai_code="request_too_large",
        # The rest of the body is not read: the connection cannot carry another request.
        headers={"Connection": "close"},
    )


class BodySizeLimit:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(scope, limit)(scope, receive, send)
            return

        received = 0
        started = False  # the app's response
        refused = False  # our 413, sent instead of it

        async def counting_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = not started
                    if refused:
                        await _too_large(scope, limit)(scope, receive, send)
                    # The app sees a client that went away, and stops reading.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 already answered this request
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise  # what the app makes of the cut-off body is moot once refused


# --- request rate ------------------------------------------------------------------------


class TokenBuckets:
    """A token bucket per caller: `burst` requests at once, refilled at `per_minute`.

    Used from the event loop only (middleware), so it needs no lock."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # caller → (tokens, when)

    def take(self, caller: str) -> float:
        """Spend one token: 0 when the request may go ahead, else seconds until it may."""
        now = self.clock()
        tokens, then = self._buckets.get(caller, (self.burst, now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        if tokens >= 1:
            self._buckets[caller] = (tokens - 1, now)
            if len(self._buckets) > MAX_TRACKED_CALLERS:
                self._forget_idle(now)
            return 0.0
        self._buckets[caller] = (tokens, now)
        return (1 - tokens) / self.rate

    async def reserve(self, caller: str) -> float:
        """``take`` as the middleware calls it (Redis-backed buckets are awaited)."""
        return self.take(caller)

    def _forget_idle(self, now: float) -> None:
        """Drop callers whose bucket has refilled: forgetting them changes nothing."""
        self._buckets = {
            caller: (tokens, then)
            for caller, (tokens, then) in self._buckets.items()
            if tokens + (now - then) * self.rate < self.burst
        }


def caller_of(scope: Scope) -> str:
    """Whom a request counts against: its API key's name, else its client address."""
    principal = scope.get("state", {}).get("principal")
    if principal is not None and getattr(principal, "authenticated", False):
        return f"key:{principal.name}"
    client = scope.get("client")
    return f"address:{client[0]}" if client else "address:unknown"


def rate_limited(path: str) -> bool:
    """Probes, the chat page, its files and the API docs are never limited."""
    return not (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))


class Buckets(Protocol):
    rate: float
    burst: float

    async def reserve(self, caller: str) -> float: ...


class RateLimit:
    def __init__(self, app: ASGIApp, buckets: Buckets) -> None:
        self.app = app
        self.buckets = buckets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and rate_limited(scope["path"]):
            wait = await self.buckets.reserve(caller_of(scope))
            if wait > 0:
                retry = max(1, math.ceil(wait))
                response = refusal_response(
                    scope["path"],
                    429,
                    slug="rate-limited",
                    title="Too many requests",
                    detail=f"Rate limit of {self.buckets.rate * 60:g} requests a minute "
                    f"(bursts of {self.buckets.burst:g}) reached; retry in {retry} s.",
                    openai_code="rate_limit_exceeded",
                    headers={"Retry-After": str(retry)},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


# --- answer slots ------------------------------------------------------------------------


class Overloaded(HTTPException):
    """No slot to compose an answer in: 503 with Retry-After (a problem document, or an
    OpenAI error on /v1, through the app's handlers)."""

    def __init__(self, slots: int, waited: float) -> None:
        super().__init__(
            status_code=503,
            detail=f"All {slots} answer slots stayed busy for {waited:g} s; retry shortly.",
            headers={"Retry-After": str(max(1, math.ceil(waited)))},
        )


class AnswerSlots:
    """At most `size` answers and summaries composed at once (threads of the pool)."""

    def __init__(self, size: int, wait_seconds: float) -> None:
        self.size = size
        self.wait_seconds = wait_seconds
        self._semaphore = threading.BoundedSemaphore(size)

    @contextmanager
    def held(self) -> Iterator[None]:
        self._acquire()
        try:
            yield
        finally:
            self._semaphore.release()

    def stream(self, make: Callable[[], Iterator[T]]) -> Iterator[T]:
        """``make()`` run with a slot, then iterated holding it until the stream ends, fails
        or is dropped. The slot is taken now, so a refusal is still a plain 503."""
        self._acquire()
        try:
            events = make()
        except BaseException:
            self._semaphore.release()
            raise
        return _SlotStream(events, self._semaphore.release)

    def _acquire(self) -> None:
        if not self._semaphore.acquire(timeout=self.wait_seconds):
            raise Overloaded(self.size, self.wait_seconds)


class _SlotStream(Iterator[T]):
    """Releases its slot exactly once: at the end of the stream, on an error, on close(),
    or when dropped unfinished (a client that went away; nothing may ever iterate it)."""

    def __init__(self, events: Iterator[T], release: Callable[[], None]) -> None:
        self._events = events
        self._release: Callable[[], None] | None = release

    def __next__(self) -> T:
        try:
            return next(self._events)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            close = getattr(self._events, "close", None)
            if close is not None:
                close()
            release()

    def __del__(self) -> None:
        self.close()


def get_slots(request: Request) -> AnswerSlots:
    slots: AnswerSlots = request.app.state.answer_slots
    return slots


SlotsDep = Annotated[AnswerSlots, Depends(get_slots)]


def install_limits(app: FastAPI, settings: Settings) -> None:
    """Body size innermost (so the auth and rate checks, outside it, run first), then the
    rate limit; the answer slots on app.state for the routes that compose answers."""
    app.state.answer_slots = AnswerSlots(
        settings.max_concurrent_llm_requests, settings.llm_queue_seconds
    )
    app.add_middleware(BodySizeLimit, settings=settings)
    if settings.rate_limit_per_minute > 0:
        per_minute, burst = settings.rate_limit_per_minute, settings.rate_limit_burst
        buckets: Buckets = TokenBuckets(per_minute, burst)
        if settings.redis_url:
            from newsdesk.api.shared_limits import RedisTokenBuckets  # the `redis` extra

            buckets = RedisTokenBuckets(settings.redis_url, per_minute, burst)
        app.add_middleware(RateLimit, buckets=buckets)
