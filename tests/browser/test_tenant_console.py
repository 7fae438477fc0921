"""In a real browser: a tenant's owner signs in by code at /console/ and sees their messages only.

The web is the test's live server; the sign-in code goes through a real Celery worker to the SMTP
sink. Another tenant's message sits in the same table.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from playwright.sync_api import expect

from accounts.models import Tenant, TenantMember, TenantRole
from messaging.models import CommunicationLog, MessageStatus
from tests.browser.conftest import screenshot
from tests.browser.test_pages import code_for, email_worker  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

OWNER = "owner@acme.example"


def a_message(slug: str, recipient: str, cost: str) -> None:
    CommunicationLog.objects.create(
        recipient=recipient, channel="sms", status=MessageStatus.SENT, provider_used="twilio",
        cost=Decimal(cost), tenant_id=slug, metadata={"tenant_id": slug},
    )  # fmt: skip


def test_a_tenant_owner_signs_in_and_sees_their_messages_only(browser_page, live_server, email_worker):  # noqa: F811
    page = browser_page
    acme = Tenant.objects.create(slug="acme", name="Acme")
    Tenant.objects.create(slug="globex", name="Globex")
    owner = get_user_model().objects.create_user(OWNER, OWNER)
    TenantMember.objects.create(tenant=acme, user=owner, role=TenantRole.OWNER)
    a_message("acme", "+14155550101", "0.0079")
    a_message("globex", "+14155550202", "0.0500")
    connection.close()

    page.goto(f"{live_server.url}/console/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=%2Fconsole%2F")
    page.get_by_label("Email or phone").fill(OWNER)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(code_for(email_worker, OWNER))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{live_server.url}/console/")

    page.get_by_role("link", name="Messages", exact=True).first.click()
    expect(page.get_by_text("+14155550101")).to_be_visible()
    expect(page.locator("#month-total")).to_contain_text("1 message, 0.0079 USD")
    screenshot(page, "tenant-console-messages")
    expect(page.get_by_text("+14155550202")).to_have_count(0)
    expect(page.get_by_text("globex")).to_have_count(0)
