"""Tenants with API keys, and a client that sends as one of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.keys import create_api_key
from accounts.models import Tenant
from tests.helpers import wait_for
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.receipts import post_twilio_callback

MESSAGES_URL = "/api/v1/messages"


@dataclass
class TenantClient:
    client: Client
    key: str
    tenant: Tenant

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Api-Key {self.key}", **(extra or {})}

    def send(self, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(MESSAGES_URL, body, content_type="application/json", **self.headers(headers))

    def get(self, url: str, **params: Any) -> Any:
        return self.client.get(url, params, **self.headers())


def tenant_client(slug: str, **key_fields: Any) -> TenantClient:
    tenant = Tenant.objects.get_or_create(slug=slug, defaults={"name": slug.title()})[0]
    _, key = create_api_key(tenant, name="backend", **key_fields)
    return TenantClient(client=Client(), key=key, tenant=tenant)


@pytest.fixture
def acme(db) -> TenantClient:
    return tenant_client("acme")


@pytest.fixture
def globex(db) -> TenantClient:
    return tenant_client("globex")


EMAIL = {
    "channel": "email",
    "to": "jane@example.com",
    "subject": "Your receipt",
    "text": "Thanks!",
    "html": "<p>Thanks!</p>",
}
SMS = {"channel": "sms", "to": "+14155550123", "body": "Your parcel ships today."}


@pytest.fixture
def worker(settings, live_server, smtp_sink, twilio_standin, aws, moto_url, start_worker):
    """A real worker: email to the SMTP sink; SMS through Twilio (receipts to the live server), then SNS."""
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = True
    return start_worker(
        TEST_WORKER_STANDIN_CREDENTIALS="1",
        CALLBACKS_ALLOW_PRIVATE_URLS="1",
        CALLBACKS_TIMEOUT_SECONDS="8",
        MESSAGING_SMS_PROVIDERS="twilio,sns",
        MESSAGING_WEBHOOK_BASE_URL=live_server.url,
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=settings.TWILIO_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio_standin.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=settings.AWS_REGION,
        AWS_ENDPOINT_URL=moto_url,
    )


def settled(acme, url: str, *statuses: str) -> dict:
    return wait_for(lambda: (shown := acme.get(url).json())["status"] in statuses and shown, what=f"{url} {statuses}")


def twilio_says(settings, sid: str, status: str, code: str = "") -> int:
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID, "To": SMS["to"], "From": TWILIO_FROM}
    if code:
        form["ErrorCode"] = code
    return post_twilio_callback(f"{settings.MESSAGING_WEBHOOK_BASE_URL}/webhooks/twilio", form,
                                auth_token=settings.TWILIO_AUTH_TOKEN)  # fmt: skip
