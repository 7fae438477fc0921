"""A resend whose worker died before its provider call is taken over after its lease and sent once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code, verify_code
from otp.models import OneTimeCode
from otp.recovery import recover_lost_resends, recover_undelivered_codes, resume_lost_resend
from otp.resend import claim_resend, resend_through_next_provider
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for

pytestmark = pytest.mark.django_db

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
LEASE = 40


@pytest.fixture
def first_sent(settings, smtp_sink, sendgrid_standin) -> OneTimeCode:
    """A code the first provider (SMTP) took; SendGrid is next in the chain."""
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    settings.OTP_CLAIM_LEASE_SECONDS = LEASE
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    assert deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE).reason == MessageStatus.SENT
    return OneTimeCode.objects.select_related("log").get(pk=otp.pk)


def sweep_resends(at) -> list[int]:
    """The recovery sweep at `at`, running each resend it publishes as a worker would."""
    published: list[int] = []
    recover_lost_resends(now=at, publish=published.append)
    for resend_log_id in published:
        resume_lost_resend(resend_log_id, now=at)
    return published


def resend_log(otp: OneTimeCode) -> CommunicationLog:
    return CommunicationLog.objects.exclude(pk=otp.log_id).get()


def test_a_resend_abandoned_before_its_provider_call_is_sent_once_after_its_lease(first_sent, sendgrid_standin):
    claimed_at = timezone.now()
    claim = claim_resend(first_sent.log_id, reason="no receipt in time", now=claimed_at)
    assert not isinstance(claim, str)  # the worker holds the resend ... and dies here

    assert sweep_resends(claimed_at + timedelta(seconds=LEASE - 1)) == []  # its lease still runs
    assert sendgrid_standin.mails == []
    assert sweep_resends(claimed_at + timedelta(seconds=LEASE + 1)) == [claim.log.pk]

    [mail] = sendgrid_standin.mails
    log = resend_log(first_sent)
    assert (log.pk, log.status, log.provider_used) == (claim.log.pk, MessageStatus.SENT, "sendgrid")
    assert list(log.attempts.values_list("provider", "outcome", "reason")) == [
        ("sendgrid", AttemptOutcome.SENT, "resent: no receipt in time")
    ]
    assert verify_code(REQUEST, code_in(mail["content"][0]["value"]), now=timezone.now()) is True


def test_a_recovered_resend_stays_the_codes_only_resend(first_sent, sendgrid_standin):
    claimed_at = timezone.now()
    claim = claim_resend(first_sent.log_id, reason="failure receipt", now=claimed_at)
    later = claimed_at + timedelta(seconds=LEASE + 1)
    assert sweep_resends(later) == [claim.log.pk]

    # The sweep runs again, its task is delivered twice, a receipt asks for a resend: nothing more goes out.
    assert sweep_resends(later + timedelta(seconds=LEASE + 1)) == []
    assert resume_lost_resend(claim.log.pk, now=later) == "not owed"
    assert resend_through_next_provider(first_sent.log_id, reason="failure receipt", now=later) == (
        "already resent, used, expired or out of guesses"
    )
    assert len(sendgrid_standin.mails) == 1
    assert CommunicationLog.objects.count() == 2


def test_a_lost_resend_published_but_never_run_is_published_again_after_the_grace_period(
    settings, first_sent, sendgrid_standin
):
    settings.OTP_RECOVERY_GRACE_SECONDS = 10
    claimed_at = timezone.now()
    claim = claim_resend(first_sent.log_id, reason="no receipt in time", now=claimed_at)
    swept_at = claimed_at + timedelta(seconds=LEASE + 1)
    lost: list[int] = []
    recover_lost_resends(now=swept_at, publish=lost.append)  # its task is lost with the broker

    assert sweep_resends(swept_at + timedelta(seconds=9)) == []
    assert sweep_resends(swept_at + timedelta(seconds=11)) == [claim.log.pk]
    assert len(sendgrid_standin.mails) == 1


def test_a_lost_resend_whose_code_expired_or_was_used_is_failed_and_not_sent(first_sent, sendgrid_standin):
    claimed_at = timezone.now()
    claim = claim_resend(first_sent.log_id, reason="no receipt in time", now=claimed_at)

    assert sweep_resends(first_sent.expires_at + timedelta(seconds=1)) == []

    log = resend_log(first_sent)
    assert (log.pk, log.status) == (claim.log.pk, MessageStatus.FAILED)
    assert sendgrid_standin.mails == []


def test_the_first_send_sweep_leaves_resend_logs_to_their_own(first_sent):
    claimed_at = timezone.now()
    claim_resend(first_sent.log_id, reason="no receipt in time", now=claimed_at)
    published: list[str] = []

    recover_undelivered_codes(now=claimed_at + timedelta(seconds=LEASE + 1), publish=published.append)

    assert published == []


def test_a_resends_reason_is_written_with_its_attempt_in_the_same_statement(first_sent, sendgrid_standin):
    with CaptureQueriesContext(connection) as queries:
        resend_through_next_provider(first_sent.log_id, reason="no receipt in time", now=timezone.now())

    attempt_table = DeliveryAttempt._meta.db_table
    writes = [q["sql"] for q in queries if attempt_table in q["sql"] and not q["sql"].startswith("SELECT")]
    assert len(writes) == 1 and "UPDATE" not in writes[0].split(attempt_table)[0]
    assert DeliveryAttempt.objects.get(log__in=CommunicationLog.objects.exclude(pk=first_sent.log_id)).reason == (
        "resent: no receipt in time"
    )


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_beat_sweep_hands_a_lost_resend_to_a_real_worker_which_sends_it_once(
    client, settings, smtp_sink, sendgrid_standin, start_worker
):
    from otp.tasks import recover_undelivered_codes as beat_sweep

    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    start_worker(
        TEST_WORKER_STANDIN_CREDENTIALS="1",
        MESSAGING_EMAIL_PROVIDERS="smtp,sendgrid",
        SENDGRID_API_KEY=settings.SENDGRID_API_KEY,
        SENDGRID_API_HOST=settings.SENDGRID_API_HOST,
    )
    sent = client.post(SEND_URL, {"email": "jane@example.com", "purpose": "login"}, content_type="application/json")
    assert sent.status_code == 202
    smtp_sink.wait_for(1)
    first_log = wait_for(
        lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT, provider_used="smtp").first(),
        what="SMTP to take the first code",
    )
    # A worker claimed the resend and died before calling SendGrid, longer ago than the lease.
    abandoned_at = timezone.now() - timedelta(seconds=settings.OTP_CLAIM_LEASE_SECONDS + 1)
    claim = claim_resend(first_log.pk, reason="no receipt in time", now=abandoned_at)
    assert not isinstance(claim, str)

    assert beat_sweep()["resends_republished"] == 1

    resent = wait_for(
        lambda: CommunicationLog.objects.filter(pk=claim.log.pk, status=MessageStatus.SENT).first(),
        what="the worker to send the resend",
    )
    assert resent.provider_used == "sendgrid"
    [mail] = sendgrid_standin.mails
    assert beat_sweep()["resends_republished"] == 0
    body = {"email": "jane@example.com", "purpose": "login", "code": code_in(mail["content"][0]["value"])}
    verified = client.post(VERIFY_URL, body, content_type="application/json")
    assert verified.status_code == 200 and verified.json()["verified"] is True


def test_beat_sends_the_sweep_for_an_abandoned_resend_only_once_its_lease_ran_out(first_sent):
    from otp.recovery import anything_lost

    claimed_at = timezone.now()
    claim = claim_resend(first_sent.log_id, reason="no receipt in time", now=claimed_at)
    assert not isinstance(claim, str)
    assert anything_lost(now=claimed_at + timedelta(seconds=LEASE - 1)) is False
    assert anything_lost(now=claimed_at + timedelta(seconds=LEASE + 1)) is True
