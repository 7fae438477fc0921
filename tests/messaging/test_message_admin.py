"""The admin's message list: a failing message reads as failing, with its attempts, error and provider."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:messaging_communicationlog_changelist")


def retrying(recipient: str = "retry@example.com") -> CommunicationLog:
    """Every provider failed; the message waits for its retry (queued, next due in 30 s)."""
    log = CommunicationLog.objects.create(
        recipient=recipient, channel="email", status=MessageStatus.QUEUED,
        error_message="smtp: SMTPServerDisconnected", claimed_at=timezone.now() + timedelta(seconds=30),
    )  # fmt: skip
    log.attempts.create(provider="ses", outcome="skipped_not_configured")
    log.attempts.create(provider="smtp", outcome="provider_fault", error="SMTPServerDisconnected")
    return log


def healthy(recipient: str = "fine@example.com") -> CommunicationLog:
    log = CommunicationLog.objects.create(
        recipient=recipient, channel="email", status=MessageStatus.SENT, provider_used="smtp", sent_at=timezone.now()
    )
    log.attempts.create(provider="smtp", outcome="sent")
    return log


def row_of(page: str, recipient: str) -> str:
    return next(row for row in page.split("<tr")[1:] if recipient in row)


def test_a_retrying_message_reads_as_failing_with_its_attempts_and_error(admin_client):
    retrying()
    healthy()

    page = admin_client.get(CHANGELIST).content.decode()

    row = row_of(page, "retry@example.com")
    assert '<td class="field-state">Failing, will retry</td>' in row
    assert '<td class="field-attempt_count">2 (1 failed)</td>' in row
    assert '<td class="field-short_error">smtp: SMTPServerDisconnected</td>' in row
    fine = row_of(page, "fine@example.com")
    assert '<td class="field-state">Sent</td>' in fine and '<td class="field-provider">smtp</td>' in fine


def test_the_list_filters_messages_with_failed_attempts(admin_client):
    retrying()
    healthy()

    failed = admin_client.get(CHANGELIST, {"failed_attempts": "yes"}).content.decode()
    clean = admin_client.get(CHANGELIST, {"failed_attempts": "no"}).content.decode()

    assert "Has failed attempts" in failed
    assert "retry@example.com" in failed and "fine@example.com" not in failed
    assert "fine@example.com" in clean and "retry@example.com" not in clean


def test_a_queued_messages_future_claim_time_is_shown_as_its_next_retry(admin_client):
    log = retrying()

    page = admin_client.get(reverse("admin:messaging_communicationlog_change", args=[log.pk])).content.decode()

    assert re.search(r"next delivery due at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", page)
    assert "claimed by a worker" not in page
    assert "Failing, will retry" in page
