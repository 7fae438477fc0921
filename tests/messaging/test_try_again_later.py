"""Greylisting: an SMTP 450/451 at RCPT ("try again later") blames no one.

The code waits for the server's delay (or MESSAGING_RETRY_LATER_SECONDS) and goes out again through
the chain, reaching the same provider; if the code would expire first, the next provider takes it at
once. It is never a breaker failure, so no caller can open a breaker with it.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone
from prometheus_client import REGISTRY

from messaging.breaker import CLOSED, breaker_for
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.providers.base import ProviderError
from messaging.providers.smtp.sender import SMTPProvider, delay_named_in
from messaging.service import UnifiedMessagingService
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code, verify_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL, code_in, otp_email, wait_for

pytestmark = pytest.mark.django_db

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
GREYLISTED = "451 4.7.1 Greylisted, please try again in 300 seconds"
LEASE = 90.0


def queued_code() -> OneTimeCode:
    return issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)


def deliver(otp: OneTimeCode, *, retries: int = 0):
    return deliver_one_time_code(str(otp.pk), retries=retries, lease_seconds=LEASE)


def attempts(otp: OneTimeCode) -> list[tuple[str, str]]:
    return list(DeliveryAttempt.objects.filter(log_id=otp.log_id).values_list("provider", "outcome"))


def smtp_breaker() -> tuple[str, int]:
    snapshot = breaker_for("smtp").snapshot()
    return snapshot.state, snapshot.failure_count


@pytest.mark.parametrize("reply", ["450 4.2.0 <jane@example.com>: Recipient address rejected: Greylisted", GREYLISTED])
def test_a_greylisting_refusal_at_rcpt_blames_neither_the_recipient_nor_the_provider(smtp_sink, reply):
    smtp_sink.reject_with = reply

    with pytest.raises(ProviderError) as raised:
        SMTPProvider().send(otp_email())

    assert raised.value.retry_later is True
    assert raised.value.recipient_fault is False


@pytest.mark.parametrize(
    ("reply", "seconds"),
    [
        ("4.7.1 Greylisted, please try again in 300 seconds", 300.0),
        ("Greylisted for 5 minutes", 300.0),
        ("greylisted, retry after 90s", 90.0),
        ("4.7.1 Greylisting in action, please come back later", None),
    ],
)
def test_the_delay_a_greylisting_server_names_is_read_from_its_reply(reply, seconds):
    assert delay_named_in(reply) == seconds


def test_a_greylisted_code_waits_for_the_servers_delay_then_goes_out_through_the_same_provider(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    smtp_sink.refuse_first = [GREYLISTED]
    otp = queued_code()

    first = deliver(otp)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert first.done is False and first.retry_in == 300.0
    # Queued again and due in 300 s: the recovery sweep leaves it alone until then.
    assert log.status == MessageStatus.QUEUED
    assert abs((log.claimed_at - timezone.now()).total_seconds() - 300) < 5
    assert smtp_sink.messages == []
    assert smtp_breaker() == (CLOSED, 0)

    second = deliver(otp, retries=1)

    [message] = smtp_sink.wait_for(1)
    log.refresh_from_db()
    assert (second.done, log.status, log.provider_used) == (True, MessageStatus.SENT, "smtp")
    assert attempts(otp) == [("smtp", AttemptOutcome.RETRY_LATER), ("smtp", AttemptOutcome.SENT)]
    assert smtp_breaker() == (CLOSED, 0)
    assert verify_code(REQUEST, code_in(message.get_body(("plain",)).get_content()), now=timezone.now())


def test_a_greylisting_delay_past_the_codes_expiry_sends_through_the_next_provider_at_once(
    settings, smtp_sink, sendgrid_standin
):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    smtp_sink.refuse_first = [f"451 4.7.1 Greylisted, try again in {settings.OTP_TTL_SECONDS + 60} seconds"]
    otp = queued_code()

    step = deliver(otp)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (step.done, log.status, log.provider_used) == (True, MessageStatus.SENT, "sendgrid")
    assert attempts(otp) == [("smtp", AttemptOutcome.RETRY_LATER), ("sendgrid", AttemptOutcome.SENT)]
    assert len(sendgrid_standin.mails) == 1 and smtp_sink.messages == []
    assert smtp_breaker() == (CLOSED, 0)


def test_on_the_last_retry_a_greylisted_code_goes_to_the_next_provider_instead_of_failing(
    settings, smtp_sink, sendgrid_standin
):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    smtp_sink.reject_with = GREYLISTED  # greylisted for good: this server never takes it
    otp = queued_code()

    step = deliver(otp, retries=settings.OTP_DELIVERY_MAX_RETRIES)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (step.done, log.status, log.provider_used) == (True, MessageStatus.SENT, "sendgrid")
    assert len(sendgrid_standin.mails) == 1


def test_a_message_sent_at_once_through_the_service_is_not_held_back_by_greylisting(
    settings, smtp_sink, sendgrid_standin
):
    """send_email has no retry to come back with: the next provider takes the greylisted message."""
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    smtp_sink.reject_with = GREYLISTED

    result = UnifiedMessagingService().send_email("jane@example.com", "Hello", "<p>Hi</p>", "Hi")

    assert (result["status"], result["provider"]) == (MessageStatus.SENT, "sendgrid")
    assert smtp_breaker() == (CLOSED, 0)


def test_a_greylisted_call_is_counted_and_timed_as_a_call_under_its_own_outcome(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    smtp_sink.refuse_first = [GREYLISTED]
    labels = {"provider": "smtp", "outcome": AttemptOutcome.RETRY_LATER.value}
    before = REGISTRY.get_sample_value("messaging_provider_call_seconds_count", labels) or 0.0

    deliver(queued_code())

    assert REGISTRY.get_sample_value("messaging_provider_call_seconds_count", labels) == before + 1


def test_without_a_named_delay_the_code_waits_the_configured_default(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.MESSAGING_RETRY_LATER_SECONDS = 45.0
    smtp_sink.refuse_first = ["450 4.7.1 Greylisting in action, please come back later"]

    step = deliver(queued_code())

    assert step.done is False and step.retry_in == 45.0


def test_a_stream_of_greylisted_anonymous_sends_never_opens_the_breaker(settings, smtp_sink, client: Client):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    smtp_sink.reject_with = GREYLISTED
    for n in range(3 * settings.BREAKER_FAILURE_THRESHOLD):
        response = client.post(
            SEND_URL,
            {"email": f"victim{n}@corp.example", "purpose": "login"},
            content_type="application/json",
            REMOTE_ADDR=f"192.0.2.{n}",
        )
        assert response.status_code == 202
        otp = OneTimeCode.objects.get(recipient=f"victim{n}@corp.example")
        assert deliver(otp).done is False

    outcomes = set(DeliveryAttempt.objects.values_list("provider", "outcome"))
    assert outcomes == {("smtp", AttemptOutcome.RETRY_LATER)}
    assert smtp_breaker() == (CLOSED, 0)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_code_greylisted_at_rcpt_reaches_the_inbox_through_a_real_worker(client, smtp_sink, start_worker):
    smtp_sink.refuse_first = ["451 4.7.1 Greylisting in action, please come back later"]
    start_worker(MESSAGING_RETRY_LATER_SECONDS="1")

    sent = client.post(SEND_URL, {"email": "jane@example.com", "purpose": "login"}, content_type="application/json")
    assert sent.status_code == 202

    [message] = smtp_sink.wait_for(1, timeout=30)
    log = wait_for(
        lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT).first(), what="the log to be sent"
    )
    smtp_attempts = list(log.attempts.filter(provider="smtp").values_list("outcome", "error_code"))
    assert smtp_attempts == [(AttemptOutcome.RETRY_LATER, "451"), (AttemptOutcome.SENT, "")]
    assert log.provider_used == "smtp"
    assert smtp_breaker() == (CLOSED, 0)
    code = code_in(message.get_body(("plain",)).get_content())
    verified = client.post(
        VERIFY_URL, {"email": "jane@example.com", "purpose": "login", "code": code}, content_type="application/json"
    )
    assert verified.status_code == 200 and verified.json()["verified"] is True
