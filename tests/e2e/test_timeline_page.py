"""The chat page's `/timeline topic` command and the outlet and date on every citation, in
headless Chromium against the real app (extractive backend, sample articles)."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_timeline_command_shows_dated_cited_events(page: Page, sample_url: str) -> None:
    page.goto(sample_url)
    with page.expect_response(lambda r: r.url.endswith("/timeline")) as info:
        page.fill("#question", "/timeline Mecca crane collapse")
        page.press("#question", "Enter")
    response = info.value
    post_data = response.request.post_data
    assert post_data is not None
    assert json.loads(post_data) == {"topic": "Mecca crane collapse"}
    body = response.json()
    assert body["events"], body
    turn = page.locator(".turn").first
    expect(turn.locator(".assistant")).to_have_attribute("aria-busy", "false")
    items = turn.locator("ol.timeline li")
    expect(items).to_have_count(len(body["events"]))
    for index, event in enumerate(body["events"]):
        expect(items.nth(index).locator("time")).to_have_text(event["date"])
        expect(items.nth(index)).to_contain_text(event["date_source"])
    # Every citation, in the list and on its marker, names its outlet and date.
    first = body["events"][0]["citations"][0]
    meta = f"{first['source']} · {first['published_at'][:10]}"
    expect(turn.locator("ol.timeline button.cite").first).to_have_attribute("title", meta)
    expect(turn.locator(".sources li").first).to_contain_text(meta)


def test_a_resolved_time_range_is_shown(page: Page, sample_url: str) -> None:
    page.goto(sample_url)
    # No as_of from the page: "last week" is relative to today, so nothing in the 2006–2025
    # samples matches it; the page still says which range was used.
    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")):
        page.fill("#question", "What did NATO say last week?")
        page.press("#question", "Enter")
    turn = page.locator(".turn").first
    expect(turn.locator(".assistant")).to_have_attribute("aria-busy", "false")
    expect(turn.locator(".time-range")).to_contain_text("from “last week”")
