"""SES on boto3 `sesv2`, against moto's server."""

from __future__ import annotations

import email
import email.policy

import pytest

from messaging.models import AttemptOutcome, CommunicationLog
from messaging.providers.base import Attachment, ProviderError
from messaging.providers.ses.sender import SESProvider
from messaging.refusals import outcome_of
from messaging.service import UnifiedMessagingService
from tests.helpers import otp_email

pytestmark = pytest.mark.django_db


def test_it_is_configured_when_boto3_finds_credentials_and_a_region(aws):
    assert SESProvider.is_configured()


def test_it_is_not_configured_without_credentials(no_aws_credentials):
    assert not SESProvider.is_configured()


def test_it_is_not_configured_without_a_region(aws, settings, monkeypatch):
    settings.AWS_REGION = ""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert not SESProvider.is_configured()


def test_it_sends_html_and_text_from_the_configured_sender(aws):
    aws.verify_sender("otp.example.com")
    result = SESProvider().send(otp_email(cc=("carol@example.org",), bcc=("bob@example.org",)))
    [sent] = aws.sent_emails()
    assert sent["id"] == result.provider_message_id
    assert sent["source"] == "OTP Service <no-reply@otp.example.com>"
    assert sent["destinations"] == {
        "ToAddresses": ["alice@example.org"],
        "CcAddresses": ["carol@example.org"],
        "BccAddresses": ["bob@example.org"],
    }
    assert sent["subject"] == "Your code"
    assert sent["body"] == "<p>Your code is <b>123456</b></p>"  # moto keeps the HTML part when there is one


def test_it_sends_attachments_as_raw_mime(aws):
    aws.verify_sender("no-reply@otp.example.com")
    attachment = Attachment("receipt.txt", b"paid", "text/plain")
    result = SESProvider().send(otp_email(attachments=(attachment,), reply_to=("help@otp.example.com",)))
    [sent] = aws.sent_emails()
    assert sent["id"] == result.provider_message_id
    assert set(sent["destinations"]) == {"alice@example.org"}  # moto adds the To header to the envelope
    mime = email.message_from_string(sent["raw_data"], policy=email.policy.default)
    assert mime["Subject"] == "Your code"
    assert mime["From"] == "OTP Service <no-reply@otp.example.com>"
    assert mime["Reply-To"] == "help@otp.example.com"
    assert "123456" in mime.get_body(preferencelist=("plain",)).get_content()
    [part] = list(mime.iter_attachments())
    assert (part.get_filename(), part.get_content()) == ("receipt.txt", "paid")


def test_an_unverified_sender_is_a_provider_fault(aws):
    with pytest.raises(ProviderError) as raised:
        SESProvider().send(otp_email())
    assert raised.value.code == "MessageRejected"
    assert raised.value.status_code == 400
    assert outcome_of(raised.value) == AttemptOutcome.PROVIDER_FAULT
    assert "not verified" in raised.value.body
    assert raised.value.__cause__ is not None
    assert aws.sent_emails() == []


def test_an_unreachable_endpoint_is_a_passing_provider_fault(aws, settings, closed_port_url):
    settings.AWS_ENDPOINT_URL = closed_port_url
    with pytest.raises(ProviderError) as raised:
        SESProvider().send(otp_email())
    assert outcome_of(raised.value) == AttemptOutcome.PROVIDER_FAULT
    assert raised.value.code == "EndpointConnectionError"


def test_the_log_holds_the_ses_message_id(aws, settings):
    settings.OTP_FROM_EMAIL = "no-reply@otp.example.com"
    aws.verify_sender("otp.example.com")
    result = UnifiedMessagingService().send_email(
        "alice@example.org", "Your code", "<p>123456</p>", "123456", tags={"purpose": "login"}
    )
    assert result["success"] and result["provider"] == "ses"
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    [sent] = aws.sent_emails()
    assert log.provider_message_id == sent["id"]
    assert list(log.attempts.values_list("provider", "outcome")) == [("ses", AttemptOutcome.SENT)]
