"""The chat page marks an answer sentence whose sources disagree (another article reports
the same matter with other figures) and names the other side's citation, the kind of fact
that conflicts and the conflicting words of each side."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from tests.support.disagreement import QUESTION, second_outlet
from tests.support.live_server import serve
from tests.support.patience import PATIENCE_S

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def disagreeing_url(sample_desk: Newsdesk) -> Iterator[str]:
    """The samples (this module's own desk) and a second outlet's report of other figures."""
    sample_desk.ingestor.ingest([second_outlet(sample_desk, "111")])
    with serve(create_app(sample_desk.settings, desk=sample_desk)) as url:
        yield url


def test_a_sentence_whose_sources_disagree_is_marked(page: Page, disagreeing_url: str) -> None:
    page.goto(disagreeing_url)
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    expect(page.locator(".turn .assistant").last).to_have_attribute("aria-busy", "false")
    body = {"model": "newsdesk", "messages": [{"role": "user", "content": QUESTION}]}
    answer = httpx.post(f"{disagreeing_url}/v1/chat/completions", json=body, timeout=PATIENCE_S)
    relations = [r for r in answer.json()["newsdesk"]["relations"] if r["relation"] == "disagrees"]
    assert relations, answer.json()["newsdesk"]
    marked = {r["sentence"] for r in relations}
    badges = page.locator(".sentence .disagreement")
    expect(badges).to_have_count(len(marked))
    sentences = page.locator(".turn .sentence")
    for relation in relations:
        badge = sentences.nth(relation["sentence"]).locator(".disagreement")
        expect(badge).to_have_text("sources disagree")
        # The badge names the other side's citation, which the sentence also shows.
        prefix = f"Sources disagree: [{relation['citation']}] "
        expect(badge).to_have_attribute("title", re.compile("^" + re.escape(prefix)))
        assert relation["kind"] == "number"
        words = (
            f'reports a different figure ("{relation["evidence"]}" against "{relation["claim"]}")'
        )
        expect(badge).to_have_attribute("title", re.compile(re.escape(words)))
        expect(badge).to_have_attribute("data-kind", "number")
