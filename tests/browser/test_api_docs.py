"""In a real browser: Swagger UI's "Try it out" on send works as it stands; the schema shows in the browser."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from otp.models import OneTimeCode
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_try_it_out_on_send_is_accepted_with_the_default_example(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/v1/auth/otp/send$")).click()
    operation = page.locator(".opblock.is-open")
    operation.get_by_role("button", name="Try it out").click()
    body = json.loads(operation.locator("textarea.body-param__text").input_value())
    assert body == {"email": "jane@example.com", "purpose": "verification"}
    operation.get_by_role("button", name="Execute").click()

    status = operation.locator(".live-responses-table tbody .response-col_status").first
    expect(status).to_have_text("202")
    screenshot(page, "api-docs-try-it-out-send")
    assert OneTimeCode.objects.filter(recipient="jane@example.com").count() == 1


def test_authorize_offers_only_the_api_key(browser_page, live_server):
    page = browser_page
    page.goto(f"{live_server.url}/api/docs/")
    page.get_by_role("button", name=re.compile("Authorize")).first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    expect(dialog).to_contain_text("ApiKey")
    expect(dialog).not_to_contain_text("cookieAuth")
    expect(dialog).not_to_contain_text("sessionid")
    screenshot(page, "api-docs-authorize")


def test_the_schema_shows_in_the_browser_instead_of_downloading(browser_page, live_server):
    page = browser_page
    response = page.goto(f"{live_server.url}/api/schema/")  # a download would raise here

    assert response is not None and response.headers["content-type"].startswith("application/json")
    expect(page.locator("body")).to_contain_text('"openapi"')
    expect(page.locator("body")).to_contain_text("/api/v1/auth/otp/send")
