"""The chat page shows each supported sentence's corroboration (independent reports, outlets,
passages) and, in the passage panel, the original and the outlets that carried a cited copy.
Over a collection with syndicated copies of one story (tests/data/duplicates)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from newsdesk.api.app import create_app
from newsdesk.container import Newsdesk
from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from tests.support.duplicates import labelled_articles
from tests.support.live_server import serve
from tests.support.patience import PATIENCE_S

pytestmark = pytest.mark.browser

QUESTION = "How many people died in the Mecca crane collapse?"
STORIES = {"wikinews-2015-mecca-crane-collapse", "crescent-mecca-crane-inquiry"}


@pytest.fixture(scope="module")
def copies_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("copies") / "data", backend="extractive", _env_file=None
    )
    with Newsdesk.open(settings, embedder=embedder) as desk:
        desk.ingestor.ingest([a for a, story in labelled_articles() if story in STORIES])
        with serve(create_app(settings, desk=desk)) as url:
            yield url


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def test_sentences_show_how_many_independent_reports_support_them(
    page: Page, copies_url: str
) -> None:
    page.goto(copies_url)
    page.fill("#question", QUESTION)
    page.press("#question", "Enter")
    expect(page.locator(".turn .assistant").last).to_have_attribute("aria-busy", "false")
    body = {"model": "newsdesk", "messages": [{"role": "user", "content": QUESTION}]}
    answer = httpx.post(f"{copies_url}/v1/chat/completions", json=body, timeout=PATIENCE_S).json()
    sentences = answer["newsdesk"]["sentences"]
    supported = [s for s in sentences if s["supported"] and s["corroboration"]["sources"]]
    assert supported, sentences
    badges = page.locator(".sentence .corroboration")
    expect(badges).to_have_count(len(supported))
    for badge, sentence in zip(badges.all(), supported, strict=True):
        c = sentence["corroboration"]
        detail = (
            f"Supported by {_plural(c['groups'], 'independent report')} "
            f"({_plural(c['outlets'], 'outlet')}, {_plural(c['sources'], 'passage')})"
        )
        expect(badge).to_have_attribute("title", detail)

    # The passage panel names the copy's original and the other outlets that carried it.
    first = answer["newsdesk"]["citations"][0]
    others = [name for name in first["carried_by"] if name != first["source"]]
    assert others, first
    page.locator(".sentence button.cite").first.click()
    meta = page.locator("#passage-meta")
    expect(meta).to_contain_text("also carried by " + ", ".join(others))
