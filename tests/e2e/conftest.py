"""Browser end-to-end fixtures: the real app served by uvicorn on a free loopback port (in a
thread, over a real collection; `sample_url` in tests/conftest.py), driven by Debian's
chromium through Playwright's sync API. No browser is downloaded: `make test` installs the
`chromium` package. Helpers the tests import live in tests/support/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.browser import DESKTOP, PHONE, open_page
from tests.support.patience import PATIENCE_MS

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: without these, chromium stalls on lookups and updates.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Package scope, not session: a live sync Playwright marks the main thread as running an
# event loop, so a later test outside tests/e2e calling asyncio.run() would fail.
@pytest.fixture(scope="package")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: `make test` installs Debian's chromium package")
    from playwright.sync_api import expect, sync_playwright

    # Every `expect(...)` retries until it holds; Playwright's default ceiling (5 s) is shorter
    # than a streamed reply takes on a busy machine. A ceiling, not a delay: see patience.py.
    expect.set_options(timeout=PATIENCE_MS)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    with open_page(browser, DESKTOP) as opened:
        yield opened


@pytest.fixture
def phone(browser):
    with open_page(browser, PHONE) as opened:
        yield opened
