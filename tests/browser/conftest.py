"""A real browser for the tests in this folder: Playwright driving Debian's chromium.

`playwright install` cannot download browsers here, so the tests use the system's chromium
(installed by `make test`'s test-tools step). Screenshots go to .artifacts/screenshots/, which
git ignores and CI may keep.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import ROOT
from tests.helpers import missing_tool

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / ".artifacts" / "screenshots"


@pytest.fixture(scope="module")
def live_server(django_db_setup) -> Iterator:
    """pytest-django's live server, stopped with this module so that the test database can be dropped."""
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def browser_page(monkeypatch) -> Iterator:
    if not CHROMIUM.exists():
        reason = "Debian's chromium is not installed (`make test` installs it as root: scripts/ensure-test-tools.sh)"
        missing_tool(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            browser.close()
            # With Playwright's loop running, Django's connections are per context: close this one's.
            connections.close_all()


def screenshot(page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
