"""The chat page with a `read` key: asking and summarising work; uploading is not offered
(the service would refuse it with a 403), and a note says why. With an admin key the upload
form is there. Real app under uvicorn, real browser."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from newsdesk.embedding import Embedder
from newsdesk.settings import Settings
from newsdesk.stores.keys import KeyStore
from tests.support.browser import replay
from tests.support.live_server import serve_desk

pytestmark = pytest.mark.browser

ADMIN_KEY = "e2e-admin-key-0123456789abcdefghijklmnop"
CRANE = "How many people were killed when the crane fell in Mecca?"
CRANE_ID = "wikinews-2015-mecca-crane-collapse"


@pytest.fixture(scope="module")
def locked(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[tuple[str, str]]:
    """A served collection with an admin key in the settings and a stored read key."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("read-page") / "data",
        backend="extractive",
        api_keys=[ADMIN_KEY],
        _env_file=None,
    )
    with serve_desk(settings, embedder) as url, KeyStore(settings.database_path) as store:
        _, read_key = store.create("read", "page-reader")
        yield url, read_key


def _enter_key(page: Page, url: str, key: str) -> None:
    page.goto(url)
    expect(page.locator("#key-dialog")).to_be_visible()
    page.fill("#key-input", key)
    page.click("#key-save")
    expect(page.locator("#article-list li")).to_have_count(19)


def test_a_read_key_asks_and_summarises_but_is_not_offered_upload(
    page: Page, locked: tuple[str, str]
) -> None:
    url, read_key = locked
    _enter_key(page, url, read_key)
    expect(page.locator("#role-note")).to_be_visible()
    expect(page.locator("#upload-form")).to_be_hidden()
    assert page.evaluate("document.body.dataset.role") == "read"

    with page.expect_response(lambda r: r.url.endswith("/v1/chat/completions")) as info:
        page.fill("#question", CRANE)
        page.press("#question", "Enter")
    assert info.value.status == 200
    expect(page.locator(".turn .assistant").first).to_have_attribute("aria-busy", "false")
    assert replay(info.value)["newsdesk"]["citations"]
    item = page.locator(f"#article-list li[data-id='{CRANE_ID}']")
    with page.expect_response(lambda r: r.url.endswith("/summaries")) as summary:
        item.locator(".summarise").click()
    assert summary.value.status == 200
    # Still hidden after a reload (the key is remembered, the role asked again).
    page.reload()
    expect(page.locator("#article-list li")).to_have_count(19)
    expect(page.locator("#role-note")).to_be_visible()
    expect(page.locator("#upload-form")).to_be_hidden()


def test_an_admin_key_gets_the_upload_form(
    page: Page, locked: tuple[str, str], tmp_path: Path
) -> None:
    url, _ = locked
    _enter_key(page, url, ADMIN_KEY)
    expect(page.locator("#upload-form")).to_be_visible()
    expect(page.locator("#role-note")).to_be_hidden()
    assert page.evaluate("document.body.dataset.role") == "admin"
