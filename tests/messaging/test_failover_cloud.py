"""The failover loop over the real cloud providers, each SDK talking to its local stand-in."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from messaging.models import AttemptOutcome, CommunicationLog, MessageStatus
from messaging.service import UnifiedMessagingService

pytestmark = pytest.mark.django_db

SLACK_SECONDS = 1.0


def send_otp_email() -> CommunicationLog:
    result = UnifiedMessagingService().send_email("alice@example.org", "Your code", "<p>123456</p>", "Code 123456")
    return CommunicationLog.objects.get(message_id=result["message_id"])


def send_otp_sms() -> CommunicationLog:
    result = UnifiedMessagingService().send_sms("+447700900123", "Your code is 123456")
    return CommunicationLog.objects.get(message_id=result["message_id"])


def attempts(log: CommunicationLog) -> list[tuple[str, str]]:
    return list(log.attempts.values_list("provider", "outcome"))


@pytest.fixture
def console_output(settings, tmp_path):
    settings.CONSOLE_SMS_OUTPUT = str(tmp_path / "console-sms.txt")
    return tmp_path / "console-sms.txt"


def test_ses_rejecting_an_unverified_sender_fails_over_to_sendgrid(aws, sendgrid_standin, smtp_sink):
    log = send_otp_email()
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "sendgrid")
    assert attempts(log) == [("ses", AttemptOutcome.PROVIDER_FAULT), ("sendgrid", AttemptOutcome.SENT)]
    ses_attempt = log.attempts.get(provider="ses")
    assert ses_attempt.error_code == "MessageRejected" and "not verified" in ses_attempt.error
    assert sendgrid_standin.mails[0]["personalizations"][0]["to"] == [{"email": "alice@example.org"}]
    assert aws.sent_emails() == [] and smtp_sink.messages == []


def test_with_sendgrid_answering_500_too_smtp_delivers(aws, sendgrid_standin, smtp_sink):
    sendgrid_standin.fail_with_errors(500, {"message": "internal error", "field": None})
    log = send_otp_email()
    [delivered] = smtp_sink.wait_for(1)
    assert delivered["To"] == "alice@example.org" and delivered["Subject"] == "Your code"
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "smtp")
    assert log.provider_message_id == delivered["Message-ID"].strip("<>")
    assert list(log.attempts.values_list("provider", "outcome", "error_code")) == [
        ("ses", AttemptOutcome.PROVIDER_FAULT, "MessageRejected"),
        ("sendgrid", AttemptOutcome.PROVIDER_FAULT, "500"),
        ("smtp", AttemptOutcome.SENT, ""),
    ]
    assert "SendGrid 500" in log.attempts.get(provider="sendgrid").error


def test_sns_unreachable_fails_over_to_twilio(aws, twilio_standin, settings, closed_port_url):
    settings.AWS_ENDPOINT_URL = closed_port_url
    log = send_otp_sms()
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "twilio")
    assert attempts(log) == [("sns", AttemptOutcome.PROVIDER_FAULT), ("twilio", AttemptOutcome.SENT)]
    assert log.provider_message_id.startswith("SM")
    assert twilio_standin.messages[0]["To"] == "+447700900123"


def test_a_recipient_fault_stops_the_chain_without_failover(twilio_standin, settings, console_output):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "console"]
    twilio_standin.fail_with_code(21211, "The 'To' number +447700900123 is not a valid phone number.")
    log = send_otp_sms()
    assert log.status == MessageStatus.FAILED and log.provider_used == ""
    assert list(log.attempts.values_list("provider", "outcome", "error_code")) == [
        ("twilio", AttemptOutcome.RECIPIENT_FAULT, "21211")
    ]
    assert not console_output.exists()


def test_a_provider_without_credentials_is_skipped_as_not_configured(no_aws_credentials, sendgrid_standin, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses", "sendgrid"]
    log = send_otp_email()
    assert attempts(log) == [("ses", AttemptOutcome.SKIPPED_NOT_CONFIGURED), ("sendgrid", AttemptOutcome.SENT)]


def test_a_silent_ses_endpoint_is_abandoned_within_its_timeouts(aws, sendgrid_standin, settings, silent_url):
    aws.verify_sender(settings.OTP_FROM_EMAIL)
    settings.AWS_ENDPOINT_URL = silent_url
    started = time.monotonic()
    log = send_otp_email()
    elapsed = time.monotonic() - started
    assert elapsed < settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT + SLACK_SECONDS
    assert attempts(log) == [("ses", AttemptOutcome.PROVIDER_FAULT), ("sendgrid", AttemptOutcome.SENT)]
    assert log.attempts.get(provider="ses").error_code == "Timeout"


def test_a_hanging_twilio_is_abandoned_within_its_timeouts(twilio_standin, settings, console_output):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "console"]
    twilio_standin.hang()
    started = time.monotonic()
    log = send_otp_sms()
    elapsed = time.monotonic() - started
    assert elapsed < settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT + SLACK_SECONDS
    assert attempts(log) == [("twilio", AttemptOutcome.PROVIDER_FAULT), ("console", AttemptOutcome.SENT)]
    assert len(twilio_standin.requests) == 1  # it was called, and then given up on
    assert "+447700900123" in console_output.read_text()


def sent_rows(provider: str, count: int, *, at) -> None:
    CommunicationLog.objects.bulk_create(
        CommunicationLog(recipient="x", channel="sms", status=MessageStatus.SENT, provider_used=provider, sent_at=at)
        for _ in range(count)
    )


def test_each_sent_message_records_its_cost_free_tier_first(aws):
    sent_rows("sns", 999, at=timezone.now())
    last_free = send_otp_sms()
    first_paid = send_otp_sms()
    assert (last_free.provider_used, last_free.cost) == ("sns", Decimal("0"))
    assert (first_paid.provider_used, first_paid.cost) == ("sns", Decimal("0.00645"))


def test_twilio_messages_are_paid_from_the_first(twilio_standin, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    assert send_otp_sms().cost == Decimal("0.0075")


def test_smtp_is_skipped_once_its_daily_quota_is_spent(smtp_sink, sendgrid_standin, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    now = timezone.now()
    sent_rows("smtp", 499, at=now - timedelta(seconds=1))
    assert attempts(send_otp_email()) == [("smtp", AttemptOutcome.SENT)]  # the 500th of the day
    log = send_otp_email()
    assert attempts(log) == [("smtp", AttemptOutcome.SKIPPED_QUOTA), ("sendgrid", AttemptOutcome.SENT)]
    assert len(smtp_sink.messages) == 1
