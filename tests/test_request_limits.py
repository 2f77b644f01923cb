"""Body size limits before work (issue 12 §1): a too-large `Content-Length` is refused before
the body is sent, a chunked body is cut off once it passes the route's limit and the server
stops reading it, nothing is written. Real uvicorn, raw sockets."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .support.live_server import serve
from .support.patience import PATIENCE_S

REQUEST_LIMIT = 4096
BATCH_LIMIT = 8192
# Sending this much after the 413 without the server closing the connection would mean it
# keeps reading (socket buffers hold a few MB at most).
GIVE_UP_BYTES = 256 * 1024 * 1024


@dataclass
class Served:
    url: str
    desk: Newsdesk


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Served]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("limits") / "data",
        backend="extractive",
        max_request_bytes=REQUEST_LIMIT,
        max_batch_bytes=BATCH_LIMIT,
        _env_file=None,
    )
    with (
        Newsdesk.open(settings, embedder=embedder) as desk,
        serve(create_app(settings, desk=desk)) as url,
    ):
        yield Served(url, desk)


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=PATIENCE_S)
    return sock


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [
        f"{method} {path} HTTP/1.1",
        "Host: 127.0.0.1",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


def _read_response(sock: socket.socket) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = sock.recv(65536)
        assert piece, f"connection closed before a response: {data!r}"
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        piece = sock.recv(65536)
        assert piece, "connection closed in the middle of the response body"
        body += piece
    return RawResponse(int(status_line.split()[1]), headers, body[:length])


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _keeps_reading(sock: socket.socket, chunk: bytes) -> bool:
    """Whether the server goes on accepting body bytes after refusing the request."""
    sent = 0
    try:
        while sent < GIVE_UP_BYTES:
            sock.sendall(_chunk(chunk))
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        return False
    except TimeoutError:
        return False  # nobody reads: the buffers filled up and stayed full
    return True


def test_a_declared_200_mb_upload_is_refused_before_the_body_is_sent(served: Served) -> None:
    with _connect(served.url) as sock:
        sock.sendall(
            _head(
                "POST",
                "/articles/upload",
                {
                    "Content-Type": "multipart/form-data; boundary=x",
                    "Content-Length": str(200_000_000),
                },
            )
        )
        # Not one byte of the body has been sent: the answer comes anyway.
        response = _read_response(sock)
    assert response.status == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["connection"] == "close"
    problem = response.json()
    assert problem["type"] == "urn:newsdesk:problem:payload-too-large"
    assert problem["status"] == 413 and problem["instance"] == "/articles/upload"
    assert f"{50_000_000 + 2 * 1024 * 1024:,}" in problem["detail"]


def test_a_declared_oversized_chat_is_refused_with_an_openai_error(served: Served) -> None:
    with _connect(served.url) as sock:
        sock.sendall(
            _head(
                "POST",
                "/v1/chat/completions",
                {"Content-Type": "application/json", "Content-Length": str(REQUEST_LIMIT + 1)},
            )
        )
        response = _read_response(sock)
    assert response.status == 413
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "request_too_large"
    assert f"{REQUEST_LIMIT:,}" in error["message"]


def test_a_chunked_batch_over_the_limit_is_cut_off_and_nothing_is_written(
    served: Served,
) -> None:
    article = {"id": "too-big", "title": "Too big", "text": "A sentence of the story. " * 40}
    body = json.dumps([article] * 20).encode()
    assert len(body) > BATCH_LIMIT
    with _connect(served.url) as sock:
        sock.sendall(
            _head(
                "POST",
                "/articles",
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            )
        )
        for start in range(0, BATCH_LIMIT + 1024, 1024):
            sock.sendall(_chunk(body[start : start + 1024]))
        response = _read_response(sock)
        assert response.status == 413
        assert response.json()["type"] == "urn:newsdesk:problem:payload-too-large"
        # The server has stopped reading: the rest of the body meets a closed connection.
        assert not _keeps_reading(sock, b"x" * 65536)
    assert served.desk.store.article_count() == 0
    assert served.desk.store.generation() == 0


def test_a_chunked_body_within_the_limit_is_served(served: Served) -> None:
    body = json.dumps({"query": "crane collapse", "top_k": 2}).encode()
    with _connect(served.url) as sock:
        sock.sendall(
            _head(
                "POST",
                "/search",
                {"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            )
        )
        sock.sendall(_chunk(body[:10]) + _chunk(body[10:]) + b"0\r\n\r\n")
        response = _read_response(sock)
    assert response.status == 200, response.body
    assert response.json()["query"] == "crane collapse"


def test_each_route_has_its_own_limit(served: Served) -> None:
    # A body the question routes refuse is still a batch POST /articles accepts.
    article = {"id": "fits", "title": "Fits", "text": "Words of an article. " * 250}
    body = json.dumps(article)
    assert REQUEST_LIMIT < len(body) < BATCH_LIMIT
    refused = httpx.post(
        f"{served.url}/search",
        content=json.dumps({"query": "x" * (REQUEST_LIMIT + 10)}),
        headers={"content-type": "application/json"},
        timeout=PATIENCE_S,
    )
    assert refused.status_code == 413
    assert refused.headers["content-type"] == "application/problem+json"
    accepted = httpx.post(
        f"{served.url}/articles",
        content=body,
        headers={"content-type": "application/json"},
        timeout=PATIENCE_S,
    )
    assert accepted.status_code == 200, accepted.text
    served.desk.ingestor.delete("fits")
