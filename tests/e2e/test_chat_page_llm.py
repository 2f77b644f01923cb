"""The chat page with the real local model (Gemma 3 270M under llama.cpp): the reply is drawn
while it streams, sentence by checked sentence, then redrawn from the checked answer."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.support.browser import RECORDER, screenshot
from tests.support.live_server import serve_desk
from tests.support.patience import LLM_PATIENCE_MS, LLM_PATIENCE_S

pytestmark = [pytest.mark.browser, pytest.mark.llm]


def test_local_model_reply_streams_into_the_page(
    page: Page, tmp_path: Path, embedder: Embedder
) -> None:
    # On a busy machine the model is slow to start and to answer; a timeout would make the
    # reply fall back to the extractive answer and fail this test. Ceilings, not delays.
    settings = Settings(
        data_dir=tmp_path / "data",
        backend="local",
        llm_max_tokens=96,
        local_startup_seconds=LLM_PATIENCE_S,
        llm_timeout_seconds=LLM_PATIENCE_S,
        _env_file=None,
    )
    with serve_desk(settings, embedder) as url:
        page.add_init_script(RECORDER)
        page.goto(url)
        page.fill("#question", "How many people were killed when the crane fell in Mecca?")
        page.press("#question", "Enter")
        reply = page.locator(".turn .assistant")
        # The model's start, then its reply.
        expect(reply).to_have_attribute("aria-busy", "false", timeout=2 * LLM_PATIENCE_MS)
        frames = page.evaluate("window.__frames")

        # The model did not fail. (It may decline, and the story's own sentence answer: that
        # notice is allowed, the degraded one is not.)
        expect(page.locator(".turn-notice")).not_to_contain_text("Degraded")
        streamed = [f for f in frames if f["busy"] == "true" and f["streaming"] and f["text"]]
        assert streamed, f"nothing was drawn before the reply was complete: {frames}"
        assert not frames[-1]["streaming"] and frames[-1]["busy"] == "false"
        markers = page.locator(".cited button.cite")
        if markers.count():  # Gemma 270M may abstain; then there is nothing to open
            markers.first.click()
            mark = page.locator("#passage mark")
            expect(mark).to_be_visible()
            assert mark.inner_text().strip() in page.locator("#passage-text").inner_text()
        screenshot(page, "desktop-local-model")
