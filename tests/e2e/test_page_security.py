"""The service's pages in Chromium under their Content-Security-Policy: the chat page works
with nothing blocked, while a script injected into it is refused; nothing frames the page; the
API docs (Swagger UI) render from the service's own files, with no request to another origin. Every test
here also fails on a logged CSP violation (tests/e2e/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from tests.support.patience import PATIENCE_MS

pytestmark = pytest.mark.browser


@contextmanager
def watching_origins(page: Page, base_url: str) -> Iterator[list[str]]:
    """Every URL the page requests outside the service's origin (data: and blob: aside)."""
    own = urlsplit(base_url).netloc
    elsewhere: list[str] = []

    def seen(request: Request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme not in ("data", "blob") and parts.netloc != own:
            elsewhere.append(request.url)

    page.on("request", seen)
    yield elsewhere


def test_the_page_works_under_its_policy(page: Page, sample_url: str) -> None:
    # `page` fails the test on any CSP violation: nothing the page needs is blocked.
    with watching_origins(page, sample_url) as elsewhere:
        page.goto(sample_url)
        expect(page.locator("#article-list li")).to_have_count(19)
        expect(page.locator("#status")).to_contain_text("articles")
    assert elsewhere == []
    assert "default-src 'self'" in page.evaluate(
        "async () => (await fetch('/')).headers.get('content-security-policy')"
    )


def test_a_script_injected_into_the_page_does_not_run(browser: Browser, sample_url: str) -> None:
    # Its own context: the refusal is a CSP violation, which the `page` fixture would count.
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(PATIENCE_MS)
        page.goto(sample_url)
        expect(page.locator("#article-list li")).to_have_count(19)
        # What an injected <script> would be: an inline script added to the page.
        outcome = page.evaluate(
            """() => new Promise((resolve) => {
                document.addEventListener("securitypolicyviolation",
                    (event) => resolve(event.violatedDirective), { once: true });
                const script = document.createElement("script");
                script.textContent = "window.__injected = true";
                document.body.append(script);
                setTimeout(() => resolve(window.__injected ? "ran" : "silent"), 2000);
            })"""
        )
        assert outcome.startswith("script-src"), outcome
        assert page.evaluate("window.__injected") is None
    finally:
        context.close()


def test_no_other_origin_can_frame_the_page(browser: Browser, sample_url: str) -> None:
    # Its own context, like the test above.
    context = browser.new_context()
    try:
        framer = context.new_page()
        framer.set_default_timeout(PATIENCE_MS)
        messages: list[str] = []
        framer.on("console", lambda message: messages.append(message.text))
        framer.set_content(f'<iframe src="{sample_url}/" width="800" height="600"></iframe>')
        expect(framer.locator("iframe")).to_be_attached()
        framer.wait_for_timeout(1000)
        assert any("frame-ancestors" in text for text in messages), messages
        frame = framer.frames[-1]
        assert frame.url != f"{sample_url}/" or frame.locator("#question").count() == 0
    finally:
        context.close()


def test_api_docs_render_from_the_service_alone(page: Page, sample_url: str) -> None:
    with watching_origins(page, sample_url) as elsewhere:
        page.goto(f"{sample_url}/docs")
        # The operations are listed once Swagger UI's scripts have run and read the schema.
        expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
        expect(page.get_by_text("Ingest article files").first).to_be_visible()
    assert elsewhere == []
