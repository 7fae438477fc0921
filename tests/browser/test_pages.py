"""In a real browser: the landing page, the signup page's cooldown path and next step, sign-in by code.

Delivery is a real Celery worker sending email to the test's SMTP sink; the web is the live server.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import expect

from tests.browser.conftest import screenshot
from tests.helpers import code_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

OPERATOR_PASSWORD = "operator-password-for-the-pages-test"


@pytest.fixture
def email_worker(start_worker, smtp_sink, settings, tmp_path):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    start_worker(OTP_SIGNING_KEY_FILE=settings.OTP_SIGNING_KEY_FILE)
    return smtp_sink


def code_for(sink, address: str, count: int = 1) -> str:
    messages = [m for m in sink.wait_for(count, timeout=60) if m["To"] == address]
    return code_in(messages[-1].get_body(("plain",)).get_content())


def test_the_landing_page_says_what_this_is_and_the_admins_view_site_leads_there(browser_page, live_server):
    page = browser_page
    get_user_model().objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)
    connection.close()

    response = page.goto(f"{live_server.url}/")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", name="One-time codes by email and SMS")).to_be_visible()
    for name in ("Sign up", "Sign in", "API documentation", "OpenAPI schema", "service", "providers"):
        expect(page.get_by_role("link", name=name, exact=True)).to_be_visible()
    # DEBUG is off here: the admin's address is not shown to anonymous visitors.
    expect(page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    screenshot(page, "landing-anonymous")

    page.get_by_role("link", name="API documentation").click()
    expect(page).to_have_url(re.compile(r"/api/docs/$"))

    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="View site").click()
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_text("Signed in as operator.")).to_be_visible()
    expect(page.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    screenshot(page, "landing-staff")


def test_change_address_within_the_cooldown_keeps_the_code_that_was_sent(browser_page, live_server, email_worker):
    page = browser_page
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Organisation name").fill("Cooldown Ltd")
    page.get_by_label("Email or phone").fill("cooldown@example.com")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("status")).to_have_text(
        "If cooldown@example.com can receive email, a code is on its way."
        " It can take a minute; check your spam folder too."
    )
    code = code_for(email_worker, "cooldown@example.com")

    page.get_by_role("button", name="Change address").click()
    expect(page.get_by_label("Code")).to_be_hidden()
    page.get_by_role("button", name="Send me a code").click()
    # No dead end: the code field is back, the code already sent still works, the wait counts down.
    expect(page.get_by_label("Code")).to_be_focused()
    expect(page.get_by_role("status")).to_have_text(
        "The code already sent to cooldown@example.com still works: enter it below."
    )
    line = page.locator("#cooldown")
    expect(line).to_have_text(re.compile(r"^You can ask for a new code in \d+\u00a0seconds\.$"))
    first = line.text_content()
    expect(line).not_to_have_text(first or "")  # a live countdown, not a frozen number
    screenshot(page, "signup-cooldown-after-change-address")

    # After a reload the page has forgotten the send: the API's 429 still leads to the code field.
    page.reload()
    page.get_by_label("Organisation name").fill("Cooldown Ltd")
    page.get_by_label("Email or phone").fill("cooldown@example.com")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_label("Code")).to_be_focused()
    expect(page.get_by_role("status")).to_contain_text("No new code yet. If a code was sent to cooldown@example.com")
    expect(line).to_have_text(re.compile(r"^You can ask for a new code in \d+\u00a0(seconds|minutes)\.$"))
    expect(page.get_by_role("button", name="Resend code")).to_be_disabled()
    screenshot(page, "signup-cooldown-after-reload")

    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_have_text("Your account for Cooldown Ltd is ready. Welcome!")


def test_a_new_account_is_told_what_happens_next(browser_page, live_server, email_worker):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Organisation name").fill("Next Step Co")
    page.get_by_label("Email or phone").fill("next@example.com")
    page.get_by_role("button", name="Send me a code").click()
    code = code_for(email_worker, "next@example.com")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_have_text(
        "The code is invalid or has expired. You have at most 4 more tries with this code, then ask for a new one."
    )
    page.get_by_label("Code").fill(code)
    page.get_by_role("button", name="Verify").click()

    expect(page.get_by_role("status")).to_have_text("Your account for Next Step Co is ready. Welcome!")
    next_step = page.get_by_role("region", name="What happens now")
    expect(next_step).to_be_visible()
    expect(next_step).to_contain_text("Your organisation's tenant id is next-step-co.")
    expect(next_step).to_contain_text("python manage.py create_api_key next-step-co")
    expect(next_step.get_by_role("link", name="Sign in with a code")).to_be_visible()
    screenshot(page, "signup-next-step-phone")


def test_signup_success_goes_to_the_configured_url(browser_page, live_server, email_worker, settings):
    settings.SIGNUP_SUCCESS_URL = "/?welcome=1"
    page = browser_page
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Organisation name").fill("Redirected Inc")
    page.get_by_label("Email or phone").fill("redirected@example.com")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(code_for(email_worker, "redirected@example.com"))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{live_server.url}/?welcome=1")


def test_a_known_address_is_offered_sign_in_with_the_address_filled_in(browser_page, live_server, email_worker):
    page = browser_page
    get_user_model().objects.create_user("known@example.com", "known@example.com")
    connection.close()

    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Organisation name").fill("Second Try")
    page.get_by_label("Email or phone").fill("known@example.com")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(code_for(email_worker, "known@example.com"))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("status")).to_contain_text("An account with this address already exists. Sign in instead.")
    page.get_by_role("status").get_by_role("link", name="Sign in with a code").click()

    expect(page).to_have_url(f"{live_server.url}/login/")
    expect(page.get_by_label("Email or phone")).to_have_value("known@example.com")
    screenshot(page, "login-from-signup")


def test_an_existing_account_signs_in_by_code_and_out_again(browser_page, live_server, email_worker):
    page = browser_page
    get_user_model().objects.create_user("member@example.com", "member@example.com")
    connection.close()

    page.goto(f"{live_server.url}/login/?next=/")
    page.get_by_label("Email or phone").fill("member@example.com")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(code_for(email_worker, "member@example.com"))
    screenshot(page, "login-code")
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_text("Signed in as member@example.com.")).to_be_visible()
    screenshot(page, "login-signed-in")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_sign_in_for_an_address_without_an_account_says_sign_up(browser_page, live_server, email_worker):
    page = browser_page
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email or phone").fill("stranger@example.com")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(code_for(email_worker, "stranger@example.com"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("status")).to_have_text("No account uses this address. Sign up instead.")
    expect(page).to_have_url(f"{live_server.url}/login/")


def test_a_phone_number_is_told_about_text_messages_and_waits_in_minutes(browser_page, live_server, settings):
    page = browser_page
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Organisation name").fill("Phone Co")
    page.get_by_label("Email or phone").fill("+14155550123")
    page.get_by_role("button", name="Send me a code").click()

    expect(page.get_by_role("status")).to_have_text(
        "If +14155550123 can receive text messages, a code is on its way by SMS. It can take a minute."
    )
    # The page words long waits in minutes: the same helper the countdowns use.
    assert page.evaluate("window.CodeFlow.waitText(420)") == "You can ask for a new code in 7\u00a0minutes."
    assert page.evaluate("window.CodeFlow.waitText(56)") == "You can ask for a new code in 56\u00a0seconds."
    screenshot(page, "signup-phone-sent")
