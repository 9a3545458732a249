"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

`make test` installs /usr/bin/chromium; Playwright's own browser download is never used.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connections
from playwright.sync_api import Browser, Page, sync_playwright

# A real Celery worker (with beat) on the test database delivers the journey's events.
from tests.destinations.delivery.conftest import start_worker  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-results" / "screenshots"
VIEWPORT = {"width": 1440, "height": 900}


@pytest.fixture(autouse=True)
def allow_orm_next_to_playwright(monkeypatch) -> None:
    """Playwright's sync API runs an asyncio loop in the test's thread, and Django's ORM then
    refuses to run there (SynchronousOnlyOperation). The test's own queries are plain
    synchronous code waiting their turn, so tell Django so."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def browser(live_server) -> Iterator[Browser]:
    # live_server first: its database is set up before, and torn down after, the browser.
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            # While Playwright runs, the test's thread counts as running an asyncio loop, and
            # Django keeps the connections of such a thread apart from its thread-local ones:
            # the test's queries went through connections of their own. Close them here, while
            # they can still be reached, or they would keep the test database from being dropped.
            connections.close_all()
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(15_000)
    # Chromium asks every site for one; the admin has none, and each 404 is a logged warning.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    return SCREENSHOTS
