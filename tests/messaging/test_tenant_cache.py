"""A tenant's chains, credentials and budget kept per process (messaging/tenancy/cache.py).

The common case, a tenant with none of its own, costs a delivery no query for them; a credential,
chain or cap saved between two sends reaches the second one.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from messaging.budget_models import AtCap, TenantBudget
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.service import UnifiedMessagingService
from messaging.tenancy.models import ProviderCredential, TenantChain
from tests.standins.fixtures import TWILIO_SID
from tests.standins.twilio import basic_auth

pytestmark = pytest.mark.django_db

ACME_SID, ACME_TOKEN, ACME_FROM = "AC" + "c3" * 16, "acme-token-one", "+15005550111"
TENANT_TABLES = ("messaging_tenant_chain", "messaging_provider_credential", "messaging_tenant_budget")


@pytest.fixture
def twilio(settings, twilio_standin):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    twilio_standin.accounts = {TWILIO_SID: "test-auth-token", ACME_SID: ACME_TOKEN, ACME_SID[:-1] + "9": "two"}
    return twilio_standin


def send(tenant: str = "acme") -> CommunicationLog:
    result = UnifiedMessagingService().send_sms("+14155550123", "Your parcel ships today.", {"tenant_id": tenant})
    return CommunicationLog.objects.get(message_id=result["message_id"])


def acme_credential(sid: str = ACME_SID, token: str = ACME_TOKEN) -> ProviderCredential:
    row = ProviderCredential.objects.filter(tenant="acme", provider="twilio").first()
    row = row or ProviderCredential(tenant="acme", provider="twilio")
    row.set_values({"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": token, "TWILIO_FROM_NUMBER": ACME_FROM})
    row.save()
    return row


def test_a_tenant_with_nothing_of_its_own_costs_no_query_for_it_after_the_first_send(twilio):
    send()  # the first send of the process asks the database, once

    with CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            assert send().status == MessageStatus.SENT

    statements = [query["sql"] for query in captured.captured_queries]
    assert [table for table in TENANT_TABLES if any(table in sql for sql in statements)] == []
    assert len(twilio.requests) == 4


def test_a_credential_saved_changed_or_deleted_between_two_sends_reaches_the_next(twilio):
    send()
    acme_credential()
    send()
    acme_credential(sid=ACME_SID[:-1] + "9", token="two")
    send()
    ProviderCredential.objects.filter(tenant="acme").delete()  # a queryset delete sends post_delete too
    send()

    assert [basic_auth(request) for request in twilio.requests] == [
        (TWILIO_SID, "test-auth-token"),
        (ACME_SID, ACME_TOKEN),
        (ACME_SID[:-1] + "9", "two"),
        (TWILIO_SID, "test-auth-token"),
    ]


def test_a_chain_saved_between_two_sends_reaches_the_next(twilio, settings, aws):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    assert send().provider_used == "twilio"

    chain = TenantChain(tenant="acme", channel="sms", providers="sns")
    chain.full_clean()
    chain.save()

    assert send().provider_used == "sns"
    assert send("globex").provider_used == "twilio"


def test_a_cap_set_between_two_sends_is_enforced_on_the_next(twilio):
    assert send().status == MessageStatus.SENT

    TenantBudget.objects.create(tenant="acme", monthly_cap_usd=Decimal("0.0075"), at_cap=AtCap.REFUSE)
    # Seeded from what was recorded: the first message's 0.0075 already fills the cap.
    refused = send()

    assert refused.status == MessageStatus.FAILED
    assert DeliveryAttempt.objects.get(log=refused).outcome == AttemptOutcome.SKIPPED_BUDGET
    assert len(twilio.requests) == 1
