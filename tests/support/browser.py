"""What the browser tests (tests/e2e) share besides their fixtures: a recorder of what the
page drew, screenshots for a person to look at, and the API's answer to the page's request."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from .patience import PATIENCE_S

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
