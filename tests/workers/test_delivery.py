"""deliver_otp's contract: one send per code however often the task runs, nothing for stale codes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.claim import claim
from otp.delivery import backoff_delay, deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode

pytestmark = pytest.mark.django_db

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


@pytest.mark.parametrize("otp_id", [str(uuid.uuid4()), "not-a-code-id"])
def test_a_task_for_an_unknown_or_malformed_code_sends_nothing(email_via_smtp, otp_id):
    queued_code()

    step = deliver_one_time_code(otp_id, retries=0, lease_seconds=LEASE)

    assert (step.done, step.reason) == (True, "no such code")
    assert email_via_smtp.messages == []
    assert CommunicationLog.objects.get().status == MessageStatus.QUEUED


def test_a_claim_reads_both_rows_as_stored_and_stores_the_new_hash():
    otp = queued_code()
    CommunicationLog.objects.filter(pk=otp.log_id).update(cost=Decimal("0.001234"))
    before_code = OneTimeCode.objects.get(pk=otp.pk)
    before_log = CommunicationLog.objects.get(pk=otp.log_id)
    now = timezone.now()

    taken = claim(str(otp.pk), "ab" * 32, now=now, lease_seconds=LEASE)

    assert taken is not None and (taken.claimed, taken.live) == (True, True)
    for model, read, expected in [(OneTimeCode, taken.otp, before_code), (CommunicationLog, taken.log, before_log)]:
        for field in model._meta.concrete_fields:
            assert getattr(read, field.attname) == getattr(expected, field.attname), field.name
    assert taken.log.metadata == {"tenant_id": "acme", "kind": "otp"}
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == "ab" * 32
    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (log.status, log.claimed_at) == (MessageStatus.SENDING, now)
    again = claim(str(otp.pk), "cd" * 32, now=now, lease_seconds=LEASE)
    assert again is not None and (again.claimed, again.live) == (False, False)
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == "ab" * 32


@pytest.mark.django_db
def test_a_code_that_expired_before_its_delivery_ran_is_not_sent(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(pk=otp.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=90)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert step.done and (log.status, log.error_message) == (
        MessageStatus.FAILED,
        "code replaced or expired before delivery",
    )
    assert smtp_sink.messages == [] and log.attempts.count() == 0
