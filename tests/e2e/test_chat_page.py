"""The chat page in headless Chromium against the real app (extractive backend, sample
articles): streamed cited answers, citation passages, follow-ups, phone width, keyboard,
upload, summaries and the degraded state."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.misbehaving_server import misbehaving_server
from tests.support.browser import RECORDER, replay, screenshot
from tests.support.live_server import serve_desk
from tests.support.patience import PATIENCE_S

pytestmark = pytest.mark.browser

CRANE = "How many people were killed when the crane fell in Mecca?"
CRANE_ID = "wikinews-2015-mecca-crane-collapse"


def ask(page: Page, question: str) -> tuple[dict, dict, dict]:
    """Type a question, press Enter, wait for the checked answer to be drawn. Returns the
    request body, the response headers and the checked answer the page received."""
    turns = page.locator(".turn").count()
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as info:
        page.fill("#question", question)
        page.press("#question", "Enter")
    response = info.value
    turn = page.locator(".turn").nth(turns)
    expect(turn.locator(".assistant")).to_have_attribute("aria-busy", "false")
    answer = replay(response)["newsdesk"]
    post_data = response.request.post_data
    assert post_data is not None
    return json.loads(post_data), response.headers, answer


def test_streamed_answer_with_citation_passage(page: Page, sample_url: str) -> None:
    page.goto(sample_url)
    request, headers, answer = ask(page, CRANE)

    assert request["stream"] is True and request["messages"] == [{"role": "user", "content": CRANE}]
    assert headers["content-type"].startswith("text/event-stream")
    assert not answer["abstained"] and answer["citations"]
    turn = page.locator(".turn").first
    expect(turn.locator(".user-text")).to_have_text(CRANE)
    expect(turn.locator(".cited")).to_contain_text("107")
    # Every sentence drawn from the checked answer, no "Sources:" text from the stream left over.
    expect(turn.locator(".sentence")).to_have_count(len(answer["sentences"]))
    expect(turn.locator(".answer")).not_to_contain_text("Sources:")

    citation = answer["citations"][0]
    marker = turn.locator(".cited button.cite", has_text=f"[{citation['number']}]").first
    marker.click()
    panel = page.locator("#passage")
    expect(panel).to_be_visible()
    expect(panel.locator("mark")).to_have_text(citation["quote"])
    expect(page.locator("#passage-text")).to_have_text(citation["passage"])
    expect(page.locator("#passage-link")).to_have_text(citation["title"])
    expect(page.locator("#passage-link")).to_have_attribute("href", citation["url"])
    expect(page.locator("#passage-meta")).to_contain_text(citation["published_at"][:10])
    expect(marker).to_have_attribute("aria-expanded", "true")
    screenshot(page, "desktop-answer-citation")


def test_follow_up_keeps_the_conversation(page: Page, sample_url: str) -> None:
    page.goto(sample_url)
    _, _, first = ask(page, CRANE)
    request, _, answer = ask(page, "What caused it to fall?")

    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]
    assert request["messages"][1]["content"] == first["answer"]
    # The follow-up names neither the crane nor Mecca: only the history can find the story.
    assert "crane" in answer["question"].lower() or "mecca" in answer["question"].lower()
    assert answer["citations"], answer
    assert {c["article_id"] for c in answer["citations"]} == {CRANE_ID}
    rewritten = page.locator(".turn").nth(1).locator(".rewritten")
    expect(rewritten).to_be_visible()
    expect(rewritten).to_contain_text(answer["question"])
    screenshot(page, "desktop-follow-up", full_page=False)

    page.click("#new-chat")
    expect(page.locator(".turn")).to_have_count(0)
    request, _, _ = ask(page, CRANE)
    assert len(request["messages"]) == 1, "a new conversation starts without history"


def test_off_topic_question_is_declined_with_the_reason(page: Page, sample_url: str) -> None:
    page.goto(sample_url)
    _, _, answer = ask(page, "What is the recipe for a classic French onion soup?")
    assert answer["abstained"] and answer["abstain_reason"]
    turn = page.locator(".turn").first
    expect(turn.locator(".answer")).to_have_text(answer["answer"])
    expect(turn.locator(".abstain")).to_have_text(answer["abstain_reason"])
    expect(turn.locator("button.cite")).to_have_count(0)
    expect(turn.locator(".sources")).to_be_hidden()


def test_passage_opens_in_view_of_a_long_conversation(page: Page, sample_url: str) -> None:
    page.set_viewport_size({"width": 1100, "height": 600})  # a laptop: the log overflows
    page.goto(sample_url)
    for question in [
        CRANE,
        "Why did NATO refuse to close Ukraine's airspace?",
        "How many asylum seekers were rescued off Indonesia?",
        "When did the space shuttle programme end?",
    ]:
        ask(page, question)
    marker = page.locator(".turn").last.locator(".cited button.cite").first
    marker.click()
    # The conversation scrolls in its own column: marker and passage are both on screen.
    expect(page.locator("#passage mark")).to_be_in_viewport()
    expect(marker).to_be_in_viewport()
    expect(page.locator("#question")).to_be_in_viewport()
    expect(page.locator("#passage-close")).to_be_in_viewport()  # the panel's head stays put
    expect(page.locator("#passage-link")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollHeight") <= 600, "the page itself scrolls"
    screenshot(page, "laptop-long-conversation")


def test_phone_width_has_no_sideways_scroll(phone: Page, sample_url: str) -> None:
    phone.goto(sample_url)
    expect(phone.locator("#article-list li").first).to_be_visible()
    _, _, answer = ask(phone, CRANE)
    viewport = phone.viewport_size
    assert viewport is not None
    width = viewport["width"]

    def overflow() -> int:
        return phone.evaluate("document.documentElement.scrollWidth") - width

    assert overflow() <= 0
    for control in ["#question", "#send", "#upload-button", "#article-list .summarise >> nth=0"]:
        box = phone.locator(control).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, control
    screenshot(phone, "phone-answer")

    phone.locator(".cited button.cite").first.click()
    panel = phone.locator("#passage")
    expect(panel).to_be_in_viewport()
    expect(panel.locator("mark")).to_have_text(answer["citations"][0]["quote"])
    expect(phone.locator("#passage-close")).to_be_in_viewport()
    assert overflow() <= 0
    screenshot(phone, "phone-citation", full_page=False)  # the viewport, with the sheet over it
    phone.click("#passage-close")
    expect(panel).to_be_hidden()


def test_keyboard_only(page: Page, sample_url: str) -> None:
    page.goto(sample_url)
    # The skip link is the first stop and leads to the question box.
    page.focus("#new-chat")
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".skip")).to_be_focused()
    expect(page.locator(".skip")).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("#question")).to_be_focused()
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as info:
        page.keyboard.type(CRANE)
        page.keyboard.press("Enter")
    expect(page.locator(".assistant")).to_have_attribute("aria-busy", "false")
    answer = replay(info.value)["newsdesk"]
    expect(page.locator("#log")).to_have_attribute("aria-live", "polite")
    expect(page.locator("#question")).to_be_focused()
    expect(page.locator("#question")).to_have_value("")

    # The answer comes before the question box: Shift+Tab walks back through the last
    # source's article link onto its marker.
    page.keyboard.press("Shift+Tab")
    expect(page.locator(".sources a").last).to_be_focused()
    page.keyboard.press("Shift+Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_class(re.compile(r"\bcite\b"))
    outline = focused.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline != "none", "focus must be visible"
    data_number = focused.get_attribute("data-number")
    assert data_number is not None
    number = int(data_number)
    page.keyboard.press("Enter")
    expect(page.locator("#passage-title")).to_be_focused()
    quote = next(c["quote"] for c in answer["citations"] if c["number"] == number)
    expect(page.locator("#passage mark")).to_have_text(quote)
    page.keyboard.press("Escape")
    expect(page.locator("#passage")).to_be_hidden()
    expect(page.locator(f".sources button.cite[data-number='{number}']")).to_be_focused()


def test_upload_adds_an_article_to_the_list(page: Page, sample_url: str, tmp_path: Path) -> None:
    page.goto(sample_url)
    expect(page.locator("#article-count")).to_have_text("(19)")
    story = tmp_path / "harbour-seal-rescue.txt"
    story.write_text(
        "---\ntitle: Harbour seal pup rescued in Aberdeen\nsource: Test Gazette\n"
        "published_at: 2024-04-02\n---\nVolunteers rescued a harbour seal pup stranded on the "
        "beach at Aberdeen on Tuesday. The pup was taken to a sanctuary in Fife.\n",
        encoding="utf-8",
    )
    page.set_input_files("#upload-files", str(story))
    page.click("#upload-button")
    expect(page.locator("#upload-result")).to_contain_text("1 added")
    item = page.locator("#article-list li[data-id='harbour-seal-rescue']")
    expect(item).to_contain_text("Harbour seal pup rescued in Aberdeen")
    expect(item).to_contain_text("Test Gazette · 2024-04-02")
    expect(page.locator("#article-count")).to_have_text("(20)")

    # A bad file is reported, not silently dropped.
    bad = tmp_path / "empty.txt"
    bad.write_text("", encoding="utf-8")
    page.set_input_files("#upload-files", str(bad))
    page.click("#upload-button")
    expect(page.locator("#upload-result")).to_contain_text("Upload failed")


@contextmanager
def _refusing_port() -> Iterator[int]:
    """A loopback port that is bound but not listening, held for the whole test: every
    connection to it is refused at once, however busy the machine, and no other process can
    start listening there meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _unreachable_provider(tmp_path: Path, port: int, **settings: Any) -> Settings:
    """The `openai` backend pointed at a port that refuses connections: every call fails at
    once (the timeout is only a ceiling; a timeout would be another reason)."""
    return Settings(
        data_dir=tmp_path / "data",
        backend="openai",
        openai_base_url=f"http://127.0.0.1:{port}/v1",
        openai_api_key="unused",
        llm_max_retries=0,
        llm_timeout_seconds=PATIENCE_S,
        _env_file=None,
        **settings,
    )


def test_a_reply_the_model_declined_says_the_stories_sentences_answer(
    page: Page, tmp_path: Path, embedder: Embedder
) -> None:
    # A provider (a real local HTTP server playing the remote API) that declines a question
    # the story answers; with the rules deciding, the story's sentence answers instead.
    with misbehaving_server("ok", text="The articles don't say.") as (base_url, _):
        settings = Settings(
            data_dir=tmp_path / "data",
            backend="openai",
            openai_base_url=base_url,
            llm_max_retries=0,
            llm_answerability="extractive",
            _env_file=None,
        )
        with serve_desk(settings, embedder) as url:
            page.goto(url)
            _, _, answer = ask(page, CRANE)
    assert answer["backend"] == "extractive" and not answer["degraded"]
    assert answer["fallback_reason"] == "the model found no answer in the passages"
    notice = page.locator(".turn-notice")
    expect(notice).to_contain_text("set aside")
    expect(notice).to_contain_text(answer["fallback_reason"])
    expect(notice).not_to_contain_text("Degraded")
    expect(page.locator(".cited")).to_contain_text("107")


def test_degraded_answer_is_visibly_marked(page: Page, tmp_path: Path, embedder: Embedder) -> None:
    # An OpenAI-compatible endpoint that refuses connections: each answer falls back. The
    # refusal is immediate; the timeout is only a ceiling (a timeout would be another reason).
    with _refusing_port() as port:
        settings = _unreachable_provider(tmp_path, port)
        with serve_desk(settings, embedder) as url:
            page.goto(url)
            _, _, answer = ask(page, CRANE)
    assert answer["degraded"] and answer["backend"] == "extractive"
    assert "could not reach" in answer["degraded_reason"], answer["degraded_reason"]
    notice = page.locator(".turn-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Degraded")
    expect(notice).to_contain_text(answer["degraded_reason"])
    # The fallback still answers with cited sentences.
    expect(page.locator(".cited button.cite").first).to_be_visible()
    # /health now says the LLM is failing, and the page says so for every later question.
    expect(page.locator("#service-notice")).to_contain_text("failing")
    screenshot(page, "desktop-degraded")


def test_open_circuit_is_announced(page: Page, tmp_path: Path, embedder: Embedder) -> None:
    # One failed call opens the circuit (llm_breaker_failures=1): /health then says
    # `open circuit: …`, and the page must announce the degraded service in words.
    with _refusing_port() as port:
        settings = _unreachable_provider(
            tmp_path, port, llm_breaker_failures=1, llm_breaker_cooldown_seconds=3600
        )
        with serve_desk(settings, embedder) as url:
            page.goto(url)
            _, _, answer = ask(page, CRANE)
            assert answer["degraded"]
            health = httpx.get(f"{url}/health", timeout=PATIENCE_S).json()
            assert health["llm"].startswith("open circuit"), health["llm"]
            notice = page.locator("#service-notice")
            expect(notice).to_contain_text("paused after repeated failures")
            expect(notice).to_contain_text("Degraded service")


def test_unsupported_sentences_are_visibly_marked(
    page: Page, tmp_path: Path, embedder: Embedder
) -> None:
    # A provider (a real local HTTP server playing the remote API) whose answer makes one claim
    # no passage supports; the checker keeps it, flagged, and the page must show that.
    generated = (
        "A storm made a crane fall into Mecca's Grand Mosque, killing 107 people [1]. "
        "The Saudi king resigned the next day [1]."
    )
    with misbehaving_server("ok", text=generated) as (base_url, _):
        settings = Settings(
            data_dir=tmp_path / "data",
            backend="openai",
            openai_base_url=base_url,
            llm_max_retries=0,
            _env_file=None,
        )
        with serve_desk(settings, embedder) as url:
            page.goto(url)
            _, _, answer = ask(page, CRANE)
    assert answer["backend"] == "openai" and not answer["degraded"]
    unsupported = [s["text"] for s in answer["sentences"] if not s["supported"]]
    assert unsupported and any("king" in text for text in unsupported), answer["sentences"]
    flagged = page.locator(".sentence.unsupported")
    expect(flagged).to_have_count(len(unsupported))
    for text in unsupported:
        sentence = flagged.filter(has_text=text)
        expect(sentence.locator(".flag")).to_have_text("not supported")
        decoration = sentence.locator(".sentence-text").evaluate(
            "e => getComputedStyle(e).textDecorationLine"
        )
        assert "underline" in decoration
    supported = page.locator(".sentence:not(.unsupported)")
    expect(supported).to_have_count(len(answer["sentences"]) - len(unsupported))
    expect(supported.locator(".flag")).to_have_count(0)
    screenshot(page, "desktop-unsupported", full_page=False)


def test_unavailable_llm_shows_a_service_notice(
    page: Page, tmp_path: Path, embedder: Embedder
) -> None:
    # A local model that cannot start: /health reports it unavailable once it was tried.
    settings = Settings(
        data_dir=tmp_path / "data",
        backend="local",
        local_model_path=tmp_path / "missing.gguf",
        _env_file=None,
    )
    with serve_desk(settings, embedder) as url:
        page.goto(url)
        expect(page.locator("#status")).to_contain_text("LLM: not started")
        expect(page.locator("#service-notice")).to_be_hidden()
        _, _, answer = ask(page, CRANE)
        assert answer["degraded"]
        notice = page.locator("#service-notice")
        expect(notice).to_be_visible()
        expect(notice).to_contain_text("unavailable")
        expect(notice).to_contain_text("extractive fallback")
        expect(page.locator(".turn-notice")).to_be_visible()
        screenshot(page, "desktop-llm-unavailable", full_page=False)


def test_summarise_an_article(page: Page, sample_url: str) -> None:
    page.add_init_script(RECORDER)
    page.goto(sample_url)
    item = page.locator(f"#article-list li[data-id='{CRANE_ID}']")
    with page.expect_response(lambda r: r.url.endswith("/summaries")) as info:
        item.locator(".summarise").click()
    response = info.value
    post_data = response.request.post_data
    assert post_data is not None
    assert json.loads(post_data) == {"article_id": CRANE_ID, "stream": True}
    assert response.headers["content-type"].startswith("text/event-stream")
    turn = page.locator(".turn").first
    expect(turn.locator(".assistant")).to_have_attribute("aria-busy", "false")
    summary = replay(response)
    assert summary["citations"], summary
    # Checked sentences were drawn (clickable) while the stream was still open.
    frames = page.evaluate("window.__frames")
    assert any(f["busy"] == "true" and f["streaming"] and f["sentences"] for f in frames), frames

    expect(turn.locator(".user-text")).to_contain_text(
        "At least 107 killed in Mecca crane collapse"
    )
    expect(turn.locator(".sentence")).to_have_count(len(summary["sentences"]))
    citation = summary["citations"][0]
    turn.locator(".cited button.cite", has_text=f"[{citation['number']}]").first.click()
    expect(page.locator("#passage mark")).to_have_text(citation["quote"])
    assert {c["article_id"] for c in summary["citations"]} == {CRANE_ID}

    # The summary is part of the conversation: a follow-up can lean on it.
    request, _, _ = ask(page, "How many were wounded?")
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]
    assert request["messages"][1]["content"] == summary["summary"]


def test_api_key_is_asked_for_kept_and_sent(page: Page, tmp_path: Path, embedder: Embedder) -> None:
    key = "e2e-key-3f9a-0123456789abcdefghijklmnop"
    settings = Settings(
        data_dir=tmp_path / "data", backend="extractive", api_keys=[key], _env_file=None
    )
    with serve_desk(settings, embedder) as url:
        page.goto(url)
        expect(page.locator("#key-dialog")).to_be_visible()
        # Without a key /health says only that the service is up, and the page says no more.
        expect(page.locator("#status")).to_have_text("Service up")
        page.fill("#key-input", key)
        page.click("#key-save")
        expect(page.locator("#article-list li")).to_have_count(19)
        expect(page.locator("#status")).to_have_text("19 articles · backend: extractive")
        assert page.evaluate("localStorage.getItem('newsdesk.apiKey')") == key

        with page.expect_request(lambda r: r.url.endswith("/v1/chat/completions")) as sent:
            ask(page, CRANE)
        assert sent.value.headers["authorization"] == f"Bearer {key}"

        page.reload()  # the key is remembered: no second prompt
        expect(page.locator("#article-list li")).to_have_count(19)
        expect(page.locator("#key-dialog")).to_be_hidden()
