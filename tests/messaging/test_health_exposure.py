"""What /health/messaging shows whom: anyone sees states and error codes; counts an attacker could
use to watch forged or suppressed receipts (delivered share, awaiting receipt, pending count and
age) only staff see: an admin session or the METRICS_TOKEN bearer.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from messaging.health import latest_fault_codes
from messaging.models import AttemptOutcome, Channel, CommunicationLog, DeliveryAttempt, MessageStatus
from tests.messaging.test_health import all_configured, by_name, open_breaker  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

TOKEN = "health-staff-token"


@pytest.fixture
def twilio_receipts(settings, all_configured) -> None:  # noqa: F811
    settings.MESSAGING_WEBHOOK_BASE_URL = "https://otp.example.com"
    settings.METRICS_TOKEN = TOKEN
    now = timezone.now()
    for sid, status in (("SM1", MessageStatus.DELIVERED), ("SM2", MessageStatus.SENT)):
        CommunicationLog.objects.create(recipient="+14155550123", channel=Channel.SMS, status=status,
                                        provider_used="twilio", provider_message_id=sid, sent_at=now)  # fmt: skip


def health(client, **headers: str) -> dict[str, Any]:
    return client.get("/health/messaging", headers=headers).json()


def test_anonymous_callers_see_states_and_codes_but_no_counts(client, twilio_receipts):
    open_breaker("ses", "InvalidClientTokenId: The security token included in the request is invalid.")

    body = health(client)

    providers = by_name(body["email_providers"] + body["sms_providers"])
    assert providers["TwilioProvider"]["receipts"] == {"expected": True}
    assert providers["AWSSNSProvider"]["receipts"] is None
    assert body["pending_deliveries"] == {"state": "ok"}
    ses = providers["AWSSESProvider"]
    assert (ses["circuit_breaker"], ses["is_healthy"], ses["last_error"]) == ("open", False, "InvalidClientTokenId")
    assert body["overall_status"] == "degraded"


@pytest.mark.parametrize("how", ["session", "bearer"])
def test_staff_see_the_receipt_and_pending_counts(client, admin_user, twilio_receipts, how):
    headers = {"Authorization": f"Bearer {TOKEN}"} if how == "bearer" else {}
    if how == "session":
        client.force_login(admin_user)

    body = health(client, **headers)

    twilio = by_name(body["sms_providers"])["TwilioProvider"]
    assert twilio["receipts"] == {"expected": True, "delivered_share_last_hour": 0.5, "awaiting_receipt": 1}
    assert body["pending_deliveries"] == {"state": "ok", "count": 0, "oldest_age_seconds": None}


@pytest.mark.parametrize("authorization", [f"Bearer {TOKEN}x", f"Basic {TOKEN}", "Bearer ", TOKEN])
def test_a_wrong_or_malformed_token_gets_the_anonymous_answer(client, twilio_receipts, authorization):
    body = health(client, Authorization=authorization)
    assert by_name(body["sms_providers"])["TwilioProvider"]["receipts"] == {"expected": True}


def test_without_a_metrics_token_no_bearer_is_staff(client, settings, twilio_receipts):
    settings.METRICS_TOKEN = ""
    body = health(client, Authorization="Bearer ")
    assert body["pending_deliveries"] == {"state": "ok"}


def test_a_code_waiting_more_than_a_minute_shows_anyone_a_delayed_state(client, settings, all_configured):  # noqa: F811
    from otp.lifecycle import CodeRequest, issue_code

    request = CodeRequest(tenant_id="acme", recipient="bob@example.com", channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    CommunicationLog.objects.filter(pk=otp.log_id).update(created_at=timezone.now() - timedelta(seconds=90))

    assert health(client)["pending_deliveries"] == {"state": "delayed"}


def test_the_latest_fault_code_is_read_from_its_index_not_a_scan():
    log = CommunicationLog.objects.create(recipient="a@example.com", channel=Channel.EMAIL)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(log=log, provider="ses", outcome=outcome, error_code=code)
        for outcome, code in [(AttemptOutcome.SENT, ""), (AttemptOutcome.PROVIDER_FAULT, "Throttling")] * 50
    )
    sql, params = latest_fault_codes("ses")[:1].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "attempt_latest_fault_code" in plan
    assert latest_fault_codes("ses").first() == "Throttling"


def test_a_signed_in_user_who_is_not_staff_gets_the_anonymous_answer(client, django_user_model, twilio_receipts):
    client.force_login(django_user_model.objects.create_user("carol", password="not-staff-pass-1"))
    body = health(client)
    assert body["pending_deliveries"] == {"state": "ok"}
