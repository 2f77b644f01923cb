"""The app served for real: uvicorn in a thread on a free loopback port, for tests that need
a live HTTP server (the official `openai` client, a browser). The one way tests start it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings

from .patience import PATIENCE_S
from .samples import load_samples


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL once it accepts requests;
    stop it on exit (an error if it does not stop)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port meanwhile
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="uvicorn-test", daemon=True
    )
    thread.start()
    # uvicorn sets `started` once the lifespan has run and the socket listens; the ceiling is
    # only there so that a server that never starts fails the test instead of hanging it.
    deadline = time.monotonic() + PATIENCE_S
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before it started (see the log above)")
        if time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start within {PATIENCE_S:g}s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=PATIENCE_S)
        sock.close()
    if thread.is_alive():
        raise RuntimeError(f"uvicorn did not stop within {PATIENCE_S:g}s")


@contextmanager
def serve_desk(settings: Settings, embedder: Embedder, *, samples: bool = True) -> Iterator[str]:
    """A fresh collection (the sample articles, unless told otherwise) behind a live server."""
    with Newsdesk.open(settings, embedder=embedder) as desk:
        if samples:
            desk.ingestor.ingest(load_samples())
        with serve(create_app(settings, desk=desk)) as url:
            yield url
