"""Tenants with API keys, and a client that sends as one of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from accounts.keys import create_api_key
from accounts.models import Tenant

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
