"""Why a sentence is "not supported": the chat page shows the checker's mismatches (kind, the
claim's words, the nearest words of the cited quote) and the LLM judge's verdict on hover, on
keyboard focus of the flag and on a tap. The provider is a real local HTTP server playing the
remote API: it writes an answer with a changed number and answers the judge's call."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from newsdesk.embedding import Embedder
from newsdesk.generation.judge import judge_prompt
from tests.misbehaving_server import Behaviour, misbehaving_server, provider_settings
from tests.support.browser import PHONE, open_page, screenshot
from tests.support.live_server import serve_desk
from tests.support.patience import PATIENCE_S

pytestmark = pytest.mark.browser

CRANE = "How many people were killed when the crane fell in Mecca?"
# The story says 107; the provider says 170 (and states the cause as the story does).
GENERATED = (
    "A storm caused a crane to fall into Mecca's Grand Mosque, killing 170 people [1]. "
    "The accident was caused by strong winds and heavy rain [1]."
)
JUDGE_REASON = "The evidence says 107 or more were killed, not 170."
VERDICTS = json.dumps(
    {
        "verdicts": [
            {"statement": 1, "verdict": "unsupported", "reason": JUDGE_REASON},
            {"statement": 2, "verdict": "supported", "reason": "Stated in the evidence."},
        ]
    }
)
KINDS = {
    "name": "Name",
    "number": "Number",
    "date": "Date",
    "negation": "Negation",
    "attribution": "Who said it",
    "missing": "Not in the passage",
}


def _route(body: dict[str, Any]) -> tuple[Behaviour, str]:
    judging = body["messages"][0]["content"] == judge_prompt().system
    return ("ok", VERDICTS if judging else GENERATED)


def _ask(page: Page, question: str) -> None:
    page.fill("#question", question)
    page.press("#question", "Enter")
    expect(page.locator(".turn .assistant").last).to_have_attribute("aria-busy", "false")


def _expected_lines(sentence: dict) -> list[str]:
    """What the page must say, from the API's own answer (not from this test's guesses)."""
    lines = []
    for m in sentence["mismatches"]:
        where = (
            "not in the cited passage"
            if m["evidence"] is None
            else f"the cited passage has “{m['evidence']}”"
        )
        lines.append(f"{KINDS[m['kind']]}: “{m['claim']}” — {where}")
    judge = sentence["judge"]
    lines.append(f"Judge ({judge['model']}) says {judge['verdict']}: {judge['reason']}")
    return lines


@pytest.fixture(scope="module")
def judged_url(tmp_path_factory, embedder: Embedder):
    with misbehaving_server("ok", route=_route) as (base_url, _):
        settings = provider_settings(
            tmp_path_factory.mktemp("judged") / "data",
            base_url,
            openai_model="remote-model",
            llm_judge=True,
        )
        with serve_desk(settings, embedder) as url:
            yield url


def _flagged(page: Page, url: str) -> tuple[dict, Any]:
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as info:
        _ask(page, CRANE)
    del info  # the page consumed the stream; the API is asked the same again below
    body = {"model": "newsdesk", "messages": [{"role": "user", "content": CRANE}]}
    reply = httpx.post(f"{url}/v1/chat/completions", json=body, timeout=PATIENCE_S)
    answer = reply.json()["newsdesk"]
    flagged = [s for s in answer["sentences"] if not s["supported"]]
    assert [s["text"] for s in flagged] == [answer["sentences"][0]["text"]], answer["sentences"]
    sentence = flagged[0]
    assert any(m["kind"] == "number" and "170" in m["claim"] for m in sentence["mismatches"]), (
        sentence["mismatches"]
    )
    assert sentence["judge"]["verdict"] == "unsupported"
    return sentence, page.locator(".sentence.unsupported")


def test_reasons_show_on_hover_and_keyboard_focus(page: Page, judged_url: str) -> None:
    page.goto(judged_url)
    sentence, flagged = _flagged(page, judged_url)
    expect(flagged).to_have_count(1)
    flag = flagged.locator("button.flag")
    tip = flagged.locator(".why")
    expect(flag).to_have_text("not supported")
    expect(tip).to_be_hidden()
    # The flag is described by the reasons (read out by screen readers on focus).
    tip_id = flag.get_attribute("aria-describedby")
    assert tip_id and page.locator(f"#{tip_id}").get_attribute("role") == "tooltip"
    expect(tip.locator(".why-line")).to_have_text(_expected_lines(sentence))
    expect(tip).to_contain_text("170")
    expect(tip).to_contain_text(JUDGE_REASON)

    flagged.locator(".sentence-text").hover()
    expect(tip).to_be_visible()
    screenshot(page, "desktop-unsupported-reason", full_page=False)
    page.mouse.move(1, 1)
    expect(tip).to_be_hidden()

    # Keyboard: Tab from the sentence's last marker reaches its flag.
    flagged.locator("button.cite").last.focus()
    page.keyboard.press("Tab")
    expect(flag).to_be_focused()
    expect(tip).to_be_visible()
    page.keyboard.press("Tab")
    expect(tip).to_be_hidden()
    # The supported sentence has no flag and no reasons.
    expect(page.locator(".sentence:not(.unsupported) .why")).to_have_count(0)


def test_reasons_open_on_a_tap(browser: Browser, judged_url: str) -> None:
    context_options = {"has_touch": True, "is_mobile": True}
    with open_page(browser, PHONE, **context_options) as phone:
        phone.goto(judged_url)
        _, flagged = _flagged(phone, judged_url)
        flag = flagged.locator("button.flag")
        tip = flagged.locator(".why")
        expect(tip).to_be_hidden()
        flag.tap()
        expect(tip).to_be_visible()
        expect(flag).to_have_attribute("aria-expanded", "true")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(phone, "phone-unsupported-reason", full_page=False)
        flag.tap()
        expect(tip).to_be_hidden()
        expect(flag).to_have_attribute("aria-expanded", "false")
