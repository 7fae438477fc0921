"""Two tenants, acme and globex, each with an owner and one row of everything the console shows.

Every row of globex carries the word "globex" (recipient, URL, key name, template name, its
credential's sender) so that a page leaking any of them is caught by one substring check; and a
list page must not link to any of globex's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from accounts.keys import create_api_key
from accounts.models import ApiKey, Tenant, TenantMember, TenantRole
from messaging.budget_models import TenantBudget
from messaging.models import CommunicationLog, DeliveryAttempt, DeliveryReceipt, MessageStatus
from messaging.templating.models import MessageTemplate
from messaging.tenancy.models import ProviderCredential, TenantChain
from notifications.models import CallbackDelivery, CallbackEndpoint, Message


@dataclass
class TenantRows:
    tenant: Tenant
    user: object
    key: str
    api_key: ApiKey
    log: CommunicationLog
    message: Message
    endpoint: CallbackEndpoint
    delivery: CallbackDelivery
    template: MessageTemplate
    credential: ProviderCredential
    chain: TenantChain
    budget: TenantBudget

    def client(self) -> Client:
        client = Client()
        client.force_login(self.user)
        return client


def make_tenant(slug: str, *, cost: str = "0.0125", budget_cap: str = "50.00") -> TenantRows:
    tenant = Tenant.objects.create(slug=slug, name=slug.title())
    user = get_user_model().objects.create_user(f"owner@{slug}.example", f"owner@{slug}.example")
    TenantMember.objects.create(tenant=tenant, user=user, role=TenantRole.OWNER)
    api_key, key = create_api_key(tenant, name=f"{slug}-backend")
    log = CommunicationLog.objects.create(
        recipient=f"{slug}-customer@example.com", channel="email", purpose="message", status=MessageStatus.SENT,
        provider_used="ses", provider_message_id=f"{slug}-pmid", cost=Decimal(cost), sent_at=timezone.now(),
        metadata={"tenant_id": slug, "kind": "message"}, tenant_id=slug,
    )  # fmt: skip
    DeliveryAttempt.objects.create(log=log, provider="ses", outcome="sent")
    DeliveryReceipt.objects.create(log=log, provider="ses", event_key=f"ses:{slug}", event="delivered")
    message = Message.objects.create(
        log=log, tenant=tenant, api_key=api_key, channel="email", recipient=log.recipient, reference=f"{slug}-order-1"
    )
    endpoint = CallbackEndpoint.objects.create(tenant=tenant, url=f"https://{slug}.example/hook", secret="whsec_x")
    delivery = CallbackDelivery.objects.create(
        endpoint=endpoint, webhook_id=f"msg_{slug}", event="message.delivered", payload={}, created_at=timezone.now()
    )
    template = MessageTemplate.objects.create(tenant=slug, name=f"{slug}-welcome", channel="sms", body="Hi ((name))")
    credential = ProviderCredential(tenant=slug, provider="sendgrid")
    credential.set_values({"SENDGRID_API_KEY": f"SG.{slug}-key-0000", "OTP_FROM_EMAIL": f"codes@{slug}.example"})
    credential.save()
    chain = TenantChain.objects.create(tenant=slug, channel="email", providers="sendgrid,smtp")
    budget = TenantBudget.objects.create(tenant=slug, monthly_cap_usd=Decimal(budget_cap))
    return TenantRows(tenant, user, key, api_key, log, message, endpoint, delivery, template, credential, chain, budget)


@pytest.fixture
def acme(db) -> TenantRows:
    return make_tenant("acme")


@pytest.fixture
def globex(db) -> TenantRows:
    rows = make_tenant("globex", cost="0.5", budget_cap="75.00")
    # A disabled endpoint: the endpoints page warns of it, to globex's staff only.
    CallbackEndpoint.objects.create(
        tenant=rows.tenant, url="https://globex.example/dead", secret="whsec_y", enabled=False,
        disabled_at=timezone.now(), disabled_reason="globex endpoint gave no 2xx",
    )  # fmt: skip
    return rows
