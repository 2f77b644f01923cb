"""Browser end-to-end fixtures: the real app served by uvicorn on a free loopback port (in a
thread, over a real collection), driven by Debian's chromium through Playwright's sync API.
No browser is downloaded: `make test` installs the `chromium` package."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.conftest import load_samples

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without these, chromium stalls on lookups and updates.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}

# Snapshots of the last reply at every DOM change, so the test can tell what was drawn when.
RECORDER = """
window.__frames = [];
new MutationObserver(() => {
  const turns = document.querySelectorAll(".turn");
  const reply = turns.length ? turns[turns.length - 1].querySelector(".assistant") : null;
  if (!reply) return;
  const tail = reply.querySelector(".streaming");
  window.__frames.push({
    busy: reply.getAttribute("aria-busy"),
    streaming: tail !== null,
    sentences: reply.querySelectorAll(".sentence").length,
    text: reply.querySelector(".answer").textContent.trim(),
  });
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
"""


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL; stop it on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))  # bound here, so no other process can take the port meanwhile
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()


@contextmanager
def serve_desk(settings: Settings, embedder: Embedder, *, samples: bool = True) -> Iterator[str]:
    """A fresh collection (the sample articles, unless told otherwise) behind a live server."""
    with Newsdesk.open(settings, embedder=embedder) as desk:
        if samples:
            desk.ingestor.ingest(load_samples())
        with serve(create_app(settings, desk=desk)) as url:
            yield url


@pytest.fixture(scope="module")
def sample_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """The sample articles, extractive backend (fast and deterministic), one per module."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("e2e") / "data", backend="extractive", _env_file=None
    )
    with serve_desk(settings, embedder) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: `make test` installs Debian's chromium package")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@contextmanager
def open_page(browser, viewport: dict[str, int]):
    """A fresh browser context (no shared localStorage) whose page fails the test on any
    uncaught script error."""
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield page
        assert errors == [], f"script errors on the page: {errors}"
    finally:
        context.close()


@pytest.fixture
def page(browser):
    with open_page(browser, DESKTOP) as opened:
        yield opened


@pytest.fixture
def phone(browser):
    with open_page(browser, PHONE) as opened:
        yield opened


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Written at test time (gitignored) for a person to look at."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def replay(response, **changes) -> dict:
    """What the API answers to the request the page just made, asked again without streaming
    (the extractive backend is deterministic). Chromium does not reliably keep the body of a
    response the page consumed as a stream, so the test cannot read it back from there."""
    body = {**json.loads(response.request.post_data), "stream": False, **changes}
    headers = {k: v for k, v in response.request.headers.items() if k == "authorization"}
    answer = httpx.post(response.url, json=body, headers=headers, timeout=120)
    answer.raise_for_status()
    return answer.json()
