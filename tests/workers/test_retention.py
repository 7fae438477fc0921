"""Retention: codes go a day after they expire, communication logs after the configured period."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import RedeemedToken
from messaging.models import CommunicationLog, DeliveryAttempt
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from workers.tasks import purge_expired_records

pytestmark = pytest.mark.django_db


def issue_at(when, recipient: str) -> OneTimeCode:
    request = CodeRequest(tenant_id="acme", recipient=recipient, channel="email", purpose="login")
    otp = issue_code(request, now=when, enqueue=lambda otp_id: None)
    CommunicationLog.objects.filter(pk=otp.log_id).update(created_at=when)
    DeliveryAttempt.objects.create(log_id=otp.log_id, provider="smtp", outcome="sent")
    return otp


def test_the_beat_task_deletes_codes_a_day_past_expiry_and_logs_past_retention(settings):
    settings.MESSAGING_LOG_RETENTION_DAYS = 90
    now = timezone.now()
    fresh = issue_at(now - timedelta(hours=1), "fresh@example.com")
    day_old = issue_at(now - timedelta(hours=24, minutes=11), "day-old@example.com")
    ancient = issue_at(now - timedelta(days=91), "ancient@example.com")
    for jti, expires_at in (("live", now + timedelta(minutes=5)), ("just-expired", now - timedelta(minutes=5)),
                            ("long-expired", now - timedelta(hours=2))):  # fmt: skip
        RedeemedToken.objects.create(jti=jti, tenant_slug="default", purpose="signup", expires_at=expires_at)

    result = purge_expired_records.apply().get()

    assert set(OneTimeCode.objects.values_list("pk", flat=True)) == {fresh.pk}
    assert set(CommunicationLog.objects.values_list("pk", flat=True)) == {fresh.log_id, day_old.log_id}
    assert not DeliveryAttempt.objects.filter(log_id=ancient.log_id).exists()
    # A spent token's record outlives the token, so it can never be spent twice.
    assert set(RedeemedToken.objects.values_list("jti", flat=True)) == {"live", "just-expired"}
    assert result == {"codes": 2, "logs": 1, "spent_tokens": 1}


def test_the_beat_schedule_runs_the_purge():
    from otpsite.celery import app

    schedule = app.conf.beat_schedule
    assert any(entry["task"] == purge_expired_records.name for entry in schedule.values())
