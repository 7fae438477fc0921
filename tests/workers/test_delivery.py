"""deliver_otp's contract: one send per code however often the task runs, nothing for stale codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.delivery import backoff_delay, deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from tests.write_paths import write_path  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("write_path")]

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
LEASE = 90.0


@pytest.fixture
def email_via_smtp(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    return smtp_sink


def queued_code() -> OneTimeCode:
    return issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)


def test_a_redelivered_task_whose_message_is_already_sent_sends_nothing(email_via_smtp):
    otp = queued_code()

    first = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)
    second = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)

    assert (first.done, first.reason) == (True, MessageStatus.SENT)
    assert (second.done, second.reason) == (True, "already sent")
    assert len(email_via_smtp.wait_for(1)) == 1
    assert CommunicationLog.objects.get().attempts.count() == 1


def test_a_message_claimed_by_a_live_worker_is_retried_after_its_lease(email_via_smtp):
    otp = queued_code()
    CommunicationLog.objects.filter(pk=otp.log_id).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now() - timedelta(seconds=30)
    )

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)

    assert step.done is False
    assert 55 <= step.retry_in <= 60
    assert email_via_smtp.messages == []


def test_a_claim_older_than_its_lease_is_taken_over_and_sent(email_via_smtp):
    otp = queued_code()
    CommunicationLog.objects.filter(pk=otp.log_id).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now() - timedelta(seconds=LEASE + 1)
    )

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)

    assert (step.done, step.reason) == (True, MessageStatus.SENT)
    assert len(email_via_smtp.wait_for(1)) == 1


def test_a_code_replaced_before_delivery_is_not_sent(email_via_smtp):
    stale = queued_code()
    queued_code()  # the resend invalidates the first

    step = deliver_one_time_code(str(stale.pk), retries=0, lease_seconds=LEASE)

    log = CommunicationLog.objects.get(pk=stale.log_id)
    assert step.done and (log.status, log.error_message) == (
        MessageStatus.FAILED,
        "code replaced or expired before delivery",
    )
    assert email_via_smtp.messages == []


def test_no_retry_is_scheduled_past_the_codes_expiry(settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.SMTP_HOST = ""  # nothing configured: every walk of the chain fails
    settings.OTP_RETRY_BACKOFF_BASE = 2000.0
    settings.OTP_RETRY_BACKOFF_MAX = 2000.0  # at least 1000 s: past the 600 s lifetime
    otp = queued_code()

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert step.done and log.status == MessageStatus.FAILED
    assert log.error_message.startswith("every provider failed: smtp: not configured")


@pytest.mark.parametrize("retries", range(8))
def test_backoff_grows_exponentially_with_jitter_and_a_cap(settings, retries):
    settings.OTP_RETRY_BACKOFF_BASE = 5.0
    settings.OTP_RETRY_BACKOFF_MAX = 120.0
    step = min(120.0, 5.0 * 2**retries)

    delays = [backoff_delay(retries) for _ in range(200)]

    assert all(step / 2 <= delay <= step for delay in delays)
    assert len(set(delays)) > 150
