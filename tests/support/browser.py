"""What the browser tests (tests/e2e) share besides their fixtures: a recorder of what the
page drew, screenshots for a person to look at, and the API's answer to the page's request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from .patience import PATIENCE_MS, PATIENCE_S

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "e2e" / "screenshots"

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
    answer = httpx.post(response.url, json=body, headers=headers, timeout=PATIENCE_S)
    answer.raise_for_status()
    return answer.json()


@contextmanager
def open_page(browser, viewport: dict[str, int], **options: object) -> Iterator:
    """A fresh browser context (no shared localStorage) whose page fails the test on any
    uncaught script error or Content-Security-Policy violation (the page must work under the
    service's strict policy: a violation means something it needs is blocked). `options`:
    more of the context's, e.g. `has_touch`."""
    context = browser.new_context(viewport=viewport, **options)
    page = context.new_page()
    # Clicks, navigations and expect_response/expect_request waits: the same ceiling.
    page.set_default_timeout(PATIENCE_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        yield page
        assert errors == [], f"script errors on the page: {errors}"
        assert violations == [], f"Content-Security-Policy violations: {violations}"
    finally:
        context.close()
