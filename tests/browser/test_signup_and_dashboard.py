"""In a real browser: the signup page from send to verified, and an operator who sees the failover.

The web is the test's live server; delivery is a real Celery worker whose email chain starts
with an unreachable SendGrid, so the code reaches the SMTP sink by failover.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from messaging.models import CommunicationLog, MessageStatus
from tests.browser.conftest import screenshot
from tests.helpers import code_in, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

EMAIL = "browser.user@example.com"
OPERATOR_PASSWORD = "operator-password-for-the-browser-test"


@pytest.fixture
def failing_over_worker(start_worker, smtp_sink, closed_port_url):
    return start_worker(
        DJANGO_SETTINGS_MODULE="otpsite.settings",  # tests.settings drops provider keys from the environment
        MESSAGING_EMAIL_PROVIDERS="sendgrid,smtp",
        SENDGRID_API_KEY="SG.browser-test",
        SENDGRID_API_HOST=closed_port_url,
    )


def test_a_visitor_signs_up_and_an_operator_sees_the_failover(
    browser_page, live_server, smtp_sink, failing_over_worker
):
    page = browser_page
    get_user_model().objects.create_superuser("operator", "operator@example.com", OPERATOR_PASSWORD)

    # A field error, shown next to the form.
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Organisation name").fill("Acme Browsers")
    page.get_by_label("Email or phone").fill("not-an-email")
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_text("Enter a valid email address")).to_be_visible()
    screenshot(page, "signup-field-error")

    # Send, then a wrong code, then the right one.
    page.get_by_label("Email or phone").fill(EMAIL)
    page.get_by_role("button", name="Send me a code").click()
    [email] = smtp_sink.wait_for(1, timeout=60)
    code = code_in(email.get_body(("plain",)).get_content())
    code_field = page.get_by_label(re.compile("code", re.IGNORECASE))
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    code_field.fill(wrong)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(re.compile("invalid or has expired"))).to_be_visible()
    screenshot(page, "signup-wrong-code")
    code_field.fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Your account for Acme Browsers is ready. Welcome!")).to_be_visible()
    screenshot(page, "signup-verified")

    # The operator logs in and finds the failover on the dashboard, then the message and its attempts.
    wait_for(lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT).exists(), what="the log settled")
    page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(OPERATOR_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Failovers (last 24 h): 1 of 1 sent messages (100.0%)")).to_be_visible()
    expect(page.get_by_role("img", name="Failover rate per hour")).to_be_visible()
    screenshot(page, "admin-dashboard")

    page.goto(f"{live_server.url}/admin/messaging/communicationlog/")
    page.locator("#result_list tbody tr").first.get_by_role("link").first.click()
    attempts = page.locator("#attempts-group")
    expect(attempts).to_contain_text("sendgrid")
    expect(attempts).to_contain_text("Provider fault")
    expect(attempts).to_contain_text("smtp")
    expect(attempts).to_contain_text("Sent")
    expect(page.get_by_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")).first).to_be_visible()
    screenshot(page, "admin-message-with-attempts")
