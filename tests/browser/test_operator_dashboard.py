"""In a real browser: an operator answers "which provider is failing, since when, what did it cost this
month" from the dashboard while SendGrid is down, then finds the failing messages in the admin list.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone
from playwright.sync_api import expect

from messaging.models import CommunicationLog, MessageStatus
from otp.lifecycle import CodeRequest, issue_code
from tests.browser.conftest import screenshot
from tests.helpers import SEND_URL, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

PASSWORD = "operator-password-for-the-dashboard-test"
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


@pytest.fixture
def sendgrid_down(start_worker, smtp_sink, closed_port_url):
    return start_worker(
        DJANGO_SETTINGS_MODULE="otpsite.settings",  # tests.settings drops provider keys from the environment
        MESSAGING_EMAIL_PROVIDERS="sendgrid,smtp",
        SENDGRID_API_KEY="SG.dashboard-test",
        SENDGRID_API_HOST=closed_port_url,
        BREAKER_FAILURE_THRESHOLD="1",
    )


def test_the_dashboard_answers_which_provider_fails_since_when_and_the_months_cost(
    browser_page, live_server, smtp_sink, sendgrid_down, client
):
    # One after the other: the first fails at SendGrid (opening its breaker), the second skips it.
    for count, address in enumerate(("ops1@example.com", "ops2@example.com"), start=1):
        assert client.post(SEND_URL, {"email": address}, content_type="application/json").status_code == 202
        smtp_sink.wait_for(count, timeout=60)
        wait_for(lambda n=count: CommunicationLog.objects.filter(status=MessageStatus.SENT).count() == n, what="sent")
    stuck = CodeRequest(tenant_id="default", recipient="stuck@example.com", channel="email", purpose="signup")
    issue_code(stuck, now=timezone.now(), enqueue=lambda otp_id: None)  # accepted, its task lost
    get_user_model().objects.create_superuser("operator", "operator@example.com", PASSWORD)
    connection.close()

    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/dashboard/")
    page.get_by_label("Username").fill("operator")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    # Which provider is failing, and since when.
    expect(page.locator("#failing-summary")).to_have_text(re.compile(rf"^Failing: sendgrid \(open since {WHEN} UTC\)$"))
    sendgrid = page.locator("#providers tr", has=page.get_by_role("rowheader", name="sendgrid"))
    expect(sendgrid).to_contain_text("open")
    expect(sendgrid.locator("td").nth(1)).to_have_text(re.compile(WHEN))  # opened at
    expect(sendgrid.locator("td").nth(4)).to_have_text(re.compile(rf"^{WHEN}: Unreachable"))  # last failure
    smtp = page.locator("#providers tr", has=page.get_by_role("rowheader", name="smtp"))
    expect(smtp.locator("td").nth(0)).to_have_text("closed")
    expect(smtp.locator("td").nth(5)).to_have_text(re.compile(WHEN))  # last success

    # Messages, not attempts: two messages sent (three attempts), one still owed.
    expect(page.get_by_role("img", name="Messages per hour by outcome")).to_be_visible()
    totals = page.get_by_role("table").filter(has_text="by what became of them")
    expect(totals.get_by_role("row", name="sent 2")).to_be_visible()
    expect(totals.get_by_role("row", name="pending 1")).to_be_visible()
    expect(page.locator("#oldest-undelivered")).to_have_text(
        re.compile(
            rf"^1 accepted code not yet with a provider; the oldest \(email, queued\) was accepted at {WHEN} UTC"
        )
    )

    # What it cost this calendar month, per channel and provider.
    month = timezone.now().strftime("%B %Y")
    costs = page.locator("#month-costs")
    expect(costs.get_by_role("columnheader", name=f"{month} cost")).to_be_visible()
    expect(costs.get_by_role("row", name=re.compile(r"^email smtp 2 "))).to_be_visible()
    screenshot(page, "dashboard-provider-failing")

    page.goto(f"{live_server.url}/admin/messaging/communicationlog/?failed_attempts=yes")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".field-recipient")).to_have_text("ops1@example.com")
    expect(rows.first.locator(".field-attempt_count")).to_have_text("2 (1 failed)")
    expect(rows.first.locator(".field-state")).to_have_text("Sent after failures")
    expect(rows.first.locator(".field-cost_with_currency")).to_be_in_viewport(ratio=1)  # the list fits a laptop
    screenshot(page, "admin-messages-with-failed-attempts")
