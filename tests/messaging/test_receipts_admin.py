"""Operators see delivered_at and every receipt of a message in the admin, read-only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import AttemptOutcome, Blame, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.receipts.base import Receipt, apply_receipt

pytestmark = pytest.mark.django_db


def test_the_log_page_shows_delivered_at_receipts_and_why_an_attempt_was_a_resend(admin_client):
    log = CommunicationLog.objects.create(
        recipient="+14155550123",
        channel="sms",
        status=MessageStatus.SENT,
        provider_used="twilio",
        provider_message_id="SM1",
        sent_at=timezone.now(),
    )
    DeliveryAttempt.objects.create(
        log=log, provider="twilio", outcome=AttemptOutcome.SENT, reason="resent: no receipt in time"
    )
    apply_receipt(Receipt(provider="twilio", provider_message_id="SM1", event_key="t1", event="failed",
                          blame=Blame.PROVIDER, reason="undelivered: unknown error", code="30008"))  # fmt: skip
    apply_receipt(Receipt(provider="twilio", provider_message_id="SM1", event_key="t2", event="delivered"))

    page = admin_client.get(reverse("admin:messaging_communicationlog_change", args=[log.pk])).content.decode()
    changelist = admin_client.get(reverse("admin:messaging_communicationlog_changelist")).content.decode()

    assert "Delivery receipts" in page and "undelivered: unknown error" in page and "30008" in page
    assert "resent: no receipt in time" in page
    log.refresh_from_db()
    assert log.delivered_at is not None and "Delivered at" in page
    assert "column-state" in changelist and ">delivered<" in changelist.lower()
