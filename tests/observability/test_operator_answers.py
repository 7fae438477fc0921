"""The dashboard answers: which provider is failing and since when, messages per hour, cost per month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from messaging.breaker import breaker_for
from messaging.models import CommunicationLog, MessageStatus
from observability.dashboard import dashboard_context
from observability.operator_answers import messages_per_hour, monthly_costs, oldest_undelivered, provider_rows
from otp.lifecycle import CodeRequest, issue_code

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 3, 12, 30, tzinfo=UTC)


def sent(provider: str, *, at: datetime, cost: str, channel: str = "email") -> CommunicationLog:
    log = CommunicationLog.objects.create(
        recipient="x@example.com", channel=channel, status=MessageStatus.SENT, provider_used=provider,
        cost=Decimal(cost), sent_at=at,
    )  # fmt: skip
    log.attempts.create(provider=provider, outcome="sent")
    return log


def failed_attempt(provider: str, *, at: datetime, error_code: str) -> None:
    log = CommunicationLog.objects.create(recipient="x@example.com", channel="email", status=MessageStatus.FAILED)
    attempt = log.attempts.create(provider=provider, outcome="provider_fault", error_code=error_code, error="boom")
    type(attempt).objects.filter(pk=attempt.pk).update(created_at=at)


def test_a_closed_breaker_shows_its_last_failure_with_the_time_it_happened(settings):
    settings.BREAKER_FAILURE_THRESHOLD = 2
    breaker = breaker_for("sendgrid")
    breaker.record_failure(breaker.acquire(), "HTTP 503")
    breaker.record_success(breaker.acquire())  # closed, no failures in a row, its old error kept
    assert breaker.snapshot().last_error == "HTTP 503"
    failed_attempt("sendgrid", at=NOW - timedelta(hours=2), error_code="503")
    failed_attempt("sendgrid", at=NOW - timedelta(hours=5), error_code="500")

    [row] = [r for r in provider_rows() if r.provider == "sendgrid"]

    assert (row.state, row.opened_at, row.breaker_error) == ("closed", None, "")
    assert (row.last_failure_at, row.last_failure) == (NOW - timedelta(hours=2), "503 boom")


def test_an_open_breaker_says_since_when(settings):
    settings.BREAKER_FAILURE_THRESHOLD = 1
    breaker = breaker_for("ses")
    breaker.record_failure(breaker.acquire(), "InvalidClientTokenId")

    context = dashboard_context(timezone.now())

    [failing] = context["failing"]
    assert failing.provider == "ses" and failing.state == "open"
    assert abs((timezone.now() - failing.opened_at).total_seconds()) < 60
    assert failing.breaker_error == "InvalidClientTokenId"


def test_messages_per_hour_counts_each_message_once_by_outcome():
    log = CommunicationLog.objects.create(recipient="x@example.com", channel="sms", status=MessageStatus.SENT)
    for _ in range(4):
        log.attempts.create(provider="sns", outcome="skipped_breaker_open")
    log.attempts.create(provider="twilio", outcome="sent")
    CommunicationLog.objects.create(recipient="y@example.com", channel="sms", status=MessageStatus.QUEUED)
    CommunicationLog.objects.create(recipient="z@example.com", channel="sms", status=MessageStatus.SENDING)

    table = messages_per_hour(timezone.now() - timedelta(hours=1))

    assert {outcome: sum(hours.values()) for outcome, hours in table.items()} == {"sent": 1, "pending": 2}


def test_cost_is_this_calendar_month_and_the_last_per_channel_and_provider():
    sent("smtp", at=datetime(2026, 3, 1, 0, 0, tzinfo=UTC), cost="0.0010")
    sent("smtp", at=datetime(2026, 3, 3, 12, 0, tzinfo=UTC), cost="0.0010")
    sent("smtp", at=datetime(2026, 2, 28, 23, 59, tzinfo=UTC), cost="0.0020")
    sent("twilio", at=datetime(2026, 2, 10, tzinfo=UTC), cost="0.0079", channel="sms")
    sent("twilio", at=datetime(2026, 1, 31, 23, 0, tzinfo=UTC), cost="5")  # two months back: in neither

    rows, months = monthly_costs(NOW)

    assert [(r.channel, r.provider, r.this_month_messages, r.this_month_cost, r.last_month_messages,
             r.last_month_cost) for r in rows] == [
        ("email", "smtp", 2, "0.002 USD", 1, "0.002 USD"),
        ("sms", "twilio", 0, "0 USD", 1, "0.0079 USD"),
    ]  # fmt: skip
    assert months == {
        "this": "March 2026", "last": "February 2026", "this_total": "0.002 USD", "last_total": "0.0099 USD",
    }  # fmt: skip


def test_the_oldest_undelivered_code_is_named_with_its_age():
    request = CodeRequest(tenant_id="default", recipient="late@example.com", channel="email", purpose="signup")
    issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    later = timezone.now() + timedelta(seconds=90)

    oldest = oldest_undelivered(later)

    assert (oldest.count, oldest.channel, oldest.status) == (1, "email", "queued")
    assert 89 <= oldest.age_seconds <= 120
