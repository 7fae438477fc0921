"""The signup page in a real (headless) Chromium: send, countdown, change address, verify, account."""

from __future__ import annotations

import shutil

import pytest
from django.contrib.auth import get_user_model
from django.db import connection

from tests.helpers import code_in, missing_tool

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


STRICT_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'"


def offline_under_strict_csp(page, live_url: str, csp: str) -> list[str]:
    """Refuse every request to another host, add a strict CSP to every answer; returns violations."""
    problems: list[str] = []

    def handle(route):
        if not route.request.url.startswith(live_url):
            problems.append(f"request to another host: {route.request.url}")
            route.abort()
            return
        response = route.fetch()
        route.fulfill(response=response, headers={**response.headers, "content-security-policy": csp})

    page.route("**/*", handle)
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda err: problems.append(str(err)))
    return problems


@pytest.fixture
def page(monkeypatch):
    if CHROMIUM is None:
        missing_tool("no chromium on this machine (`make test` installs it: scripts/ensure-test-tools.sh)")
    from playwright import sync_api

    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser.new_page()
        browser.close()


def test_a_new_user_signs_up_with_the_keyboard_and_the_page_closes_the_code_form(
    page, live_server, smtp_sink, start_worker, settings, tmp_path
):
    from playwright.sync_api import expect

    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    start_worker()
    problems = offline_under_strict_csp(page, live_server.url, STRICT_CSP)
    page.goto(f"{live_server.url}/signup/")
    status = page.get_by_role("status")
    expect(status).to_be_hidden()  # no empty box on load
    expect(page.get_by_label("Code")).to_be_hidden()

    page.get_by_label("Organisation name").fill("Acme Inc")
    page.get_by_label("Email or phone").fill("4155550123")
    page.keyboard.press("Enter")
    expect(status).to_have_text("Enter the number in international format: + and the country code, e.g. +14155550123.")

    page.get_by_label("Email or phone").fill("jane@example.com")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_label("Code")).to_be_focused()
    expect(page.locator("#cooldown")).to_contain_text("You can ask for a new code in")
    expect(page.get_by_role("button", name="Resend code")).to_be_disabled()

    page.get_by_role("button", name="Change address").click()
    expect(page.get_by_label("Code")).to_be_hidden()
    expect(page.get_by_label("Email or phone")).to_be_focused()
    page.get_by_label("Email or phone").fill("jane@example.org")
    page.keyboard.press("Enter")
    expect(page.get_by_label("Code")).to_be_focused()

    [message] = [m for m in smtp_sink.wait_for(2) if m["To"] == "jane@example.org"]
    code = code_in(message.get_body(("plain",)).get_content())
    page.keyboard.type(code)
    page.keyboard.press("Enter")
    expect(status).to_have_text("Your account for Acme Inc is ready. Welcome!")
    expect(page.get_by_label("Code")).to_be_hidden()
    usernames = list(get_user_model().objects.values_list("username", flat=True))
    connection.close()  # under Playwright's event loop the ORM used a connection of its own
    assert usernames == ["jane@example.org"]
    assert problems == []


def test_the_api_docs_render_offline_under_script_src_self(page, live_server):
    from playwright.sync_api import expect

    # Swagger UI sets inline styles itself, so only scripts are held to 'self' here.
    problems = offline_under_strict_csp(page, live_server.url, "script-src 'self'; object-src 'none'")
    page.goto(f"{live_server.url}/api/docs/")

    expect(page.get_by_text("/api/v1/auth/otp/send", exact=True)).to_be_visible()
    expect(page.get_by_text("/.well-known/jwks.json", exact=True)).to_be_visible()
    assert problems == []
