"""The sweep that brings lost codes back, the backlog operators see, and the settings that bound it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from otp.recovery import backlog, recover_undelivered_codes
from tests.deploy.test_deploy_check import run_manage

pytestmark = pytest.mark.django_db


def accepted(recipient: str = "jane@example.com", *, age: float = 0.0) -> OneTimeCode:
    """A code accepted `age` seconds ago whose task nobody ran (lost with the broker)."""
    request = CodeRequest(tenant_id="acme", recipient=recipient, channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    CommunicationLog.objects.filter(pk=otp.log_id).update(created_at=timezone.now() - timedelta(seconds=age))
    return otp


def sweep(at_offset: float = 0.0) -> list[str]:
    published: list[str] = []
    recover_undelivered_codes(now=timezone.now() + timedelta(seconds=at_offset), publish=published.append)
    return published


def test_a_code_queued_past_the_grace_period_is_published_again_once_per_grace_period(settings):
    settings.OTP_RECOVERY_GRACE_SECONDS = 10
    lost = accepted("lost@example.com", age=11)
    fresh = accepted("fresh@example.com", age=1)

    assert sweep() == [str(lost.pk)]
    assert sweep() == []  # just published: the next look is a grace period later
    assert sorted(sweep(at_offset=11)) == sorted([str(lost.pk), str(fresh.pk)])


def test_a_claim_past_its_lease_is_released_and_published_again_but_a_live_claim_is_not(settings):
    settings.OTP_CLAIM_LEASE_SECONDS = 40
    dead = accepted("dead-worker@example.com", age=60)
    live = accepted("live-worker@example.com", age=60)
    now = timezone.now()
    CommunicationLog.objects.filter(pk=dead.log_id).update(status="sending", claimed_at=now - timedelta(seconds=41))
    CommunicationLog.objects.filter(pk=live.log_id).update(status="sending", claimed_at=now - timedelta(seconds=30))

    assert sweep() == [str(dead.pk)]
    assert CommunicationLog.objects.get(pk=dead.log_id).status == MessageStatus.QUEUED
    assert CommunicationLog.objects.get(pk=live.log_id).status == MessageStatus.SENDING


def test_a_code_waiting_out_its_retry_backoff_is_left_to_its_retry(settings):
    settings.OTP_RECOVERY_GRACE_SECONDS = 10
    waiting = accepted(age=100)
    CommunicationLog.objects.filter(pk=waiting.log_id).update(claimed_at=timezone.now() + timedelta(seconds=60))

    assert sweep() == []
    assert sweep(at_offset=71) == [str(waiting.pk)]  # its retry never came: the sweep takes over


def test_a_failed_walk_of_the_chain_stamps_when_its_retry_is_due_so_the_sweep_waits_for_it(settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.SMTP_HOST = ""  # nothing configured: the walk fails and a retry is scheduled
    settings.OTP_RETRY_BACKOFF_BASE = 60.0
    settings.OTP_RETRY_BACKOFF_MAX = 60.0
    settings.OTP_RECOVERY_GRACE_SECONDS = 10
    otp = accepted(age=30)

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=40)

    assert step.done is False and 30 <= step.retry_in <= 60
    assert CommunicationLog.objects.get(pk=otp.log_id).status == MessageStatus.QUEUED
    assert sweep() == []
    assert sweep(at_offset=step.retry_in + 11) == [str(otp.pk)]


def test_lost_codes_that_expired_or_were_replaced_are_settled_as_failed_not_sent(settings):
    expired = accepted("expired@example.com", age=700)
    OneTimeCode.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    replaced = accepted("replaced@example.com", age=30)
    newer = accepted("replaced@example.com", age=30)

    assert sweep() == [str(newer.pk)]
    for otp in (expired, replaced):
        log = CommunicationLog.objects.get(pk=otp.log_id)
        assert (log.status, log.error_message) == (MessageStatus.FAILED, "code replaced or expired before delivery")


def test_health_shows_staff_how_many_codes_await_a_provider_and_the_age_of_the_oldest(client, admin_user):
    accepted("a@example.com", age=42)
    accepted("b@example.com", age=5)
    sent = accepted("c@example.com", age=100)
    CommunicationLog.objects.filter(pk=sent.log_id).update(status=MessageStatus.SENT)
    client.force_login(admin_user)  # anonymous callers see only the state (tests/messaging/test_health_exposure.py)

    body = client.get("/health/messaging").json()

    assert body["pending_deliveries"]["count"] == 2
    assert 42 <= body["pending_deliveries"]["oldest_age_seconds"] < 60
    assert body["pending_deliveries"]["state"] == "ok"


def test_the_operators_command_lists_pending_codes_masked_and_requeues_one(capsys):
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    otp = accepted("pending.person@example.com", age=30)

    call_command("otp_pending")
    listing = capsys.readouterr().out
    CommunicationLog.objects.filter(pk=otp.log_id).update(status="sending", claimed_at=timezone.now())
    with pytest.raises(CommandError, match="claimed by a live worker"):
        call_command("otp_pending", "--requeue", str(otp.log_id))
    CommunicationLog.objects.filter(pk=otp.log_id).update(claimed_at=timezone.now() - timedelta(seconds=3600))
    queued_before = broker.llen(settings.CELERY_QUEUE_DELIVERY)
    call_command("otp_pending", "--requeue", str(otp.log_id))

    assert re.search(rf"^{otp.log_id} +email +p\*\*\*@example.com +login +queued +3\d ", listing, re.M), listing
    assert listing.rstrip().endswith("1 pending")
    assert broker.llen(settings.CELERY_QUEUE_DELIVERY) == queued_before + 1
    assert "pending.person@example.com" not in listing
    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert log.status == MessageStatus.QUEUED and (timezone.now() - log.claimed_at).total_seconds() < 5
    assert backlog(now=timezone.now()).count == 1


def test_an_expired_queued_code_is_not_owed_and_the_backlog_ages_from_the_oldest_owed_one():
    owed = accepted("owed@example.com", age=30)
    expired = accepted("expired@example.com", age=700)  # queued, never used or replaced, but dead
    OneTimeCode.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=100))

    pending = backlog(now=timezone.now())

    assert pending.count == 1
    assert 30 <= pending.oldest_age_seconds < 40
    assert CommunicationLog.objects.get(pk=owed.log_id).status == MessageStatus.QUEUED


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"OTP_CLAIM_LEASE_SECONDS": "30", "CELERY_TASK_TIME_LIMIT": "30"}, "OTP_CLAIM_LEASE_SECONDS"),
        ({"OTP_RECOVERY_SWEEP_SECONDS": "0"}, "OTP_RECOVERY_SWEEP_SECONDS"),
        ({"OTP_CLAIM_LEASE_SECONDS": "600", "CELERY_TASK_TIME_LIMIT": "500"}, "OTP_TTL_SECONDS"),
        ({"OTP_RECOVERY_GRACE_SECONDS": "600"}, "OTP_RECOVERY_GRACE_SECONDS"),
        ({"CELERY_TASK_TIME_LIMIT": "60", "CELERY_VISIBILITY_TIMEOUT": "60"}, "CELERY_VISIBILITY_TIMEOUT"),
        ({"DATABASE_CONNECT_TIMEOUT": "1"}, "DATABASE_CONNECT_TIMEOUT"),
    ],
)
def test_start_up_refuses_settings_that_would_lose_a_code(overrides, named):
    result = run_manage("check", **overrides)

    assert result.returncode != 0
    assert named in result.stderr
    assert "Traceback" not in result.stderr
