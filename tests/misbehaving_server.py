"""A real HTTP server on loopback that imitates an OpenAI-compatible ``/v1/chat/completions``
endpoint and misbehaves on request, so the client's failure handling is tested over actual
sockets rather than against patched functions.

Behaviours:

``ok``             a valid completion, or a valid SSE stream ending in ``[DONE]``
``error500``       always HTTP 500
``flaky``          HTTP 500 for the first ``fail_times`` requests, then ``ok``
``hang``           answers only after ``hang_seconds`` (far longer than the client's timeout)
``garbage``        HTTP 200 labelled ``application/json`` whose body is not JSON
``no_choices``     valid JSON completion with an empty ``choices`` list
``broken_stream``  SSE that sends a few deltas, then closes without finish_reason or ``[DONE]``
``invalid_stream`` SSE whose second event is not JSON
``rate_limited``   HTTP 429 for the first ``fail_times`` requests, then ``ok``
``bad_request``    always HTTP 400
``slow``           ``ok`` at one token per ``gap_seconds``: a stream that keeps making
                   progress, or a completion sent only once all its tokens would have been

``route`` (optional) chooses the behaviour and text per request from its JSON body, for a
provider that answers some calls (e.g. the LLM judge's) differently from others.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from newsdesk.settings import Settings

from .support.patience import PATIENCE_S

Behaviour = Literal[
    "ok",
    "error500",
    "flaky",
    "hang",
    "garbage",
    "no_choices",
    "broken_stream",
    "invalid_stream",
    "rate_limited",
    "bad_request",
    "slow",
]

MODEL = "misbehaving-test-model"
Route = Callable[[dict[str, Any]], tuple["Behaviour", str]]
DEFAULT_TEXT = "The council approved the budget on Tuesday."


@dataclass
class RequestCounter:
    """Chat-completion requests the server has received, and their JSON bodies (thread-safe)."""

    _count: int = 0
    _bodies: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def increment(self, body: dict[str, Any]) -> int:
        with self._lock:
            self._count += 1
            self._bodies.append(body)
            return self._count

    @property
    def value(self) -> int:
        with self._lock:
            return self._count

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The request bodies in arrival order: what the client asked the provider for."""
        with self._lock:
            return list(self._bodies)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        behaviour: Behaviour,
        *,
        text: str,
        fail_times: int,
        hang_seconds: float,
        retry_after_ms: int | None,
        route: Route | None = None,
        gap_seconds: float = 0,
    ) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.behaviour = behaviour
        self.route = route
        self.text = text
        self.fail_times = fail_times
        self.hang_seconds = hang_seconds
        self.gap_seconds = gap_seconds
        self.retry_after_ms = retry_after_ms
        self.counter = RequestCounter()
        # Set at shutdown so that hanging handlers return at once instead of lingering.
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            self._send_json(200, {"object": "list", "data": [{"id": MODEL, "object": "model"}]})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send_json(404, {"error": {"message": "not found"}})
            return
        number = self.server.counter.increment(request)
        self._logprobs_asked = bool(request.get("logprobs"))
        behaviour, text = self.server.behaviour, self.server.text
        if self.server.route is not None:
            behaviour, text = self.server.route(request)
        # The client may have given up (timeout) before the answer: nothing left to do then.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._respond(number, behaviour, text, stream=bool(request.get("stream")))

    def _respond(self, number: int, behaviour: Behaviour, text: str, *, stream: bool) -> None:
        if behaviour == "error500" or (behaviour == "flaky" and number <= self.server.fail_times):
            self._send_error500()
        elif behaviour == "rate_limited" and number <= self.server.fail_times:
            self._send_refusal(429)
        elif behaviour == "bad_request":
            self._send_refusal(400)
        elif behaviour == "slow":
            # A slow server that keeps making progress: a token every `gap_seconds`.
            events = [*_chunks(self.server.text), "[DONE]"]
            if stream:
                self._send_events(events, gap_seconds=self.server.gap_seconds)
            else:
                self.server.stopping.wait(self.server.gap_seconds * len(events))
                self._send_ok(stream, self.server.text)
        elif behaviour == "hang":
            self.server.stopping.wait(self.server.hang_seconds)
            self._send_ok(stream, text)
        elif behaviour == "garbage":
            self._send_raw(200, "application/json", b"<html>definitely not json</html>")
        elif behaviour == "no_choices":
            self._send_json(200, {**_completion(""), "choices": []})
        elif behaviour == "broken_stream":
            self._send_events(_chunks(text)[:3])
        elif behaviour == "invalid_stream":
            events = _chunks(text)
            self._send_events([events[0], "{this is not json", *events[1:]])
        else:
            self._send_ok(stream, text, logprobs=self._logprobs_asked)

    def _send_ok(self, stream: bool, text: str, *, logprobs: bool = False) -> None:
        if stream:
            self._send_events([*_chunks(text), "[DONE]"])
        else:
            self._send_json(200, _completion(text, logprobs=logprobs))

    def _send_error500(self) -> None:
        self._send_refusal(500)

    def _send_refusal(self, status: int) -> None:
        body = json.dumps({"error": {"message": "boom", "type": "server_error"}}).encode()
        headers = {}
        if self.server.retry_after_ms is not None:
            # The client honours this header, which keeps retry tests fast.
            headers["retry-after-ms"] = str(self.server.retry_after_ms)
        self._send_raw(status, "application/json", body, headers)

    def _send_json(self, status: int, payload: object) -> None:
        self._send_raw(status, "application/json", json.dumps(payload).encode())

    def _send_raw(
        self, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_events(self, events: list[str], gap_seconds: float = 0) -> None:
        # No Content-Length and HTTP/1.0: the body ends when the connection closes, which is
        # exactly how a server that dies mid-stream looks to the client.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        for event in events:
            self.wfile.write(f"data: {event}\n\n".encode())
            self.wfile.flush()
            self.server.stopping.wait(gap_seconds)
        self.close_connection = True


def _completion(text: str, *, logprobs: bool = False) -> dict[str, Any]:
    words = max(1, len(text.split()))
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "stop",
    }
    if logprobs:
        choice["logprobs"] = {"content": [_token_logprobs(text)]}
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": MODEL,
        "choices": [choice],
        "usage": {"prompt_tokens": 7, "completion_tokens": words, "total_tokens": 7 + words},
    }


def _token_logprobs(text: str) -> dict[str, Any]:
    """The first token of `text` as a server reports it when asked for `logprobs`: likely
    (log probability -0.05), with the other of yes / no far behind (-3.0) among its
    alternatives."""
    token = text.split(" ", 1)[0]
    other = "no" if token.strip().lower() == "yes" else "yes"
    alternatives = [(token, -0.05), (other, -3.0), ("The", -6.0)]
    return {
        "token": token,
        "logprob": -0.05,
        "bytes": None,
        "top_logprobs": [{"token": t, "logprob": p, "bytes": None} for t, p in alternatives],
    }


def _chunks(text: str) -> list[str]:
    """SSE payloads streaming ``text`` word by word; the last one carries finish_reason."""
    pieces = [word + " " for word in text.split(" ")]
    pieces[-1] = pieces[-1].rstrip(" ")
    payloads = [_chunk({"role": "assistant", "content": ""}, None)]
    payloads += [_chunk({"content": piece}, None) for piece in pieces]
    payloads.append(_chunk({}, "stop"))
    return payloads


def _chunk(delta: dict[str, str], finish_reason: str | None) -> str:
    return json.dumps(
        {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
    )


@contextmanager
def misbehaving_server(
    behaviour: Behaviour,
    *,
    text: str = DEFAULT_TEXT,
    fail_times: int = 2,
    # A client that honours its timeout gives up long before; one that does not gets an
    # answer after this long, and fails the test instead of hanging it.
    hang_seconds: float = PATIENCE_S,
    retry_after_ms: int | None = 10,
    route: Route | None = None,
    gap_seconds: float = 0.3,
) -> Iterator[tuple[str, RequestCounter]]:
    """Run the server in a thread; yield its ``/v1`` base URL and its request counter."""
    server = _Server(
        behaviour,
        text=text,
        fail_times=fail_times,
        hang_seconds=hang_seconds,
        retry_after_ms=retry_after_ms,
        route=route,
        gap_seconds=gap_seconds,
    )
    # A short poll interval: shutdown() waits for it, and the default (0.5 s) adds up.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.02,), name="misbehaving-server", daemon=True
    )
    thread.start()
    host, port = server.server_address[:2]
    assert isinstance(host, str), host  # an AF_INET server's address: (host, port)
    try:
        yield f"http://{host}:{port}/v1", server.counter
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=PATIENCE_S)


def provider_settings(data_dir: Path, base_url: str, **overrides: Any) -> Settings:
    """Settings of a desk whose `openai` backend is a server started here. No retries by
    default: the tests count the requests the server received."""
    options: dict[str, Any] = {"llm_max_retries": 0, **overrides}
    return Settings(
        data_dir=data_dir, backend="openai", openai_base_url=base_url, _env_file=None, **options
    )
