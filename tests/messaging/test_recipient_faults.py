"""One recipient's problem never counts against a provider.

A stream of bad recipients, sent anonymously through the API and delivered by a real worker,
leaves the breaker closed; real provider faults still open it.
"""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller
from django.test import Client

from messaging.breaker import CLOSED, OPEN, breaker_for
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.providers.base import ProviderError, encoding_error
from messaging.providers.ses.sender import SESProvider
from messaging.providers.smtp.sender import SMTPProvider
from messaging.providers.twilio.sender import TwilioProvider
from messaging.service import UnifiedMessagingService
from tests.conftest import SmtpSink, free_port
from tests.helpers import SEND_URL, otp_email, wait_for
from tests.messaging.test_provider_twilio import OTP_SMS

pytestmark = pytest.mark.django_db(transaction=True)


def send(client: Client, email: str, n: int):
    return client.post(
        SEND_URL, {"email": email, "purpose": "login"}, content_type="application/json", REMOTE_ADDR=f"192.0.2.{n}"
    )


def smtp_state() -> str:
    return breaker_for("smtp").snapshot().state


@pytest.mark.parametrize(
    "reply", ["553 5.1.3 <victim.person@corp.example>: bad address syntax", "550 5.1.1 no such user"]
)
def test_a_refusal_of_one_recipient_is_a_recipient_fault(smtp_sink, reply):
    smtp_sink.reject_with = reply
    with pytest.raises(ProviderError) as raised:
        SMTPProvider().send(otp_email())
    assert raised.value.recipient_fault


@pytest.mark.parametrize("reply", ["421 4.3.0 closing", "452 4.3.1 insufficient system storage"])
def test_a_server_closing_or_out_of_storage_at_rcpt_is_a_provider_fault(smtp_sink, reply):
    smtp_sink.reject_with = reply
    with pytest.raises(ProviderError) as raised:
        SMTPProvider().send(otp_email())
    assert not raised.value.recipient_fault and not raised.value.retry_later


def test_an_address_the_smtp_server_cannot_carry_is_a_recipient_fault(settings):
    # A server without SMTPUTF8: smtplib raises SMTPNotSupportedError for a non-ASCII address.
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port, enable_SMTPUTF8=False)
    controller.start()
    settings.SMTP_HOST, settings.SMTP_PORT = sink.host, sink.port
    try:
        with pytest.raises(ProviderError) as raised:
            SMTPProvider().send(otp_email(to="ålice@example.org"))
    finally:
        controller.stop()
    assert raised.value.recipient_fault


def test_an_encoding_failure_is_the_recipients_only_when_a_recipient_is_not_ascii():
    garbled = UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")  # e.g. a garbled answer
    assert encoding_error(garbled, ["ålice@example.org"]).recipient_fault
    assert not encoding_error(garbled, ["alice@example.org", "+14155550123"]).recipient_fault


def test_a_malformed_address_refused_by_ses_is_a_recipient_fault(aws):
    aws.verify_sender("otp.example.com")
    with pytest.raises(ProviderError) as raised:
        SESProvider().send(otp_email(to="not-an-address"))
    assert raised.value.recipient_fault


def test_a_number_twilio_cannot_text_is_a_recipient_fault(twilio_standin):
    twilio_standin.fail_with_code(21407, "This Phone Number type does not support SMS")
    with pytest.raises(ProviderError) as raised:
        TwilioProvider().send(OTP_SMS)
    assert raised.value.recipient_fault


def test_a_non_ascii_mailbox_name_gets_a_field_error_and_nothing_is_queued(client):
    response = send(client, "ålice@example.com", 1)
    assert response.status_code == 400
    assert response.json()["email"] == ["Use an address with only ASCII characters before the @."]
    assert CommunicationLog.objects.count() == 0


def test_an_idn_domain_is_sent_as_punycode(client, smtp_sink, start_worker):
    start_worker()
    assert send(client, "alice@exämple.com", 1).status_code == 202
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0][1] == ["alice@xn--exmple-cua.com"]
    assert smtp_state() == CLOSED


@pytest.mark.integration
def test_a_stream_of_bad_recipients_never_opens_a_breaker_but_provider_faults_do(
    client, smtp_sink, settings, start_worker
):
    start_worker()
    smtp_sink.reject_with = "550 5.1.1 <victim.person@corp.example>: recipient refused"
    for n in range(2 * settings.BREAKER_FAILURE_THRESHOLD):
        assert send(client, f"victim{n}@corp.example", n).status_code == 202

    def all_failed() -> bool:
        failed = CommunicationLog.objects.filter(status=MessageStatus.FAILED).count()
        return failed == 2 * settings.BREAKER_FAILURE_THRESHOLD

    wait_for(all_failed, what="every bad recipient to be refused")
    outcomes = set(DeliveryAttempt.objects.values_list("provider", "outcome"))
    assert outcomes == {("ses", AttemptOutcome.SKIPPED_NOT_CONFIGURED),
                        ("sendgrid", AttemptOutcome.SKIPPED_NOT_CONFIGURED),
                        ("smtp", AttemptOutcome.RECIPIENT_FAULT)}  # fmt: skip
    assert smtp_state() == CLOSED
    health = client.get("/health/messaging").json()
    assert [p["circuit_breaker"] for p in health["email_providers"]] == ["closed"] * 3

    smtp_sink.reject_with = "421 4.3.0 service shutting down"
    for n in range(settings.BREAKER_FAILURE_THRESHOLD):
        assert send(client, f"user{n}@example.com", 100 + n).status_code == 202
    wait_for(lambda: smtp_state() == OPEN, what="the SMTP breaker to open on provider faults")


@pytest.mark.django_db
def test_a_stream_of_invalid_numbers_never_opens_a_healthy_providers_breaker(twilio_standin, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    twilio_standin.fail_with_code(21211, "The 'To' number is not a valid phone number.")
    for _ in range(settings.BREAKER_FAILURE_THRESHOLD + 2):
        result = UnifiedMessagingService().send_sms("+447700900123", "Your code is 123456")
        assert result["status"] == MessageStatus.FAILED

    snapshot = breaker_for("twilio").snapshot()
    assert (snapshot.state, snapshot.failure_count) == (CLOSED, 0)
    assert CommunicationLog.objects.filter(attempts__outcome=AttemptOutcome.SKIPPED_BREAKER_OPEN).count() == 0
