"""SendGrid on the official SDK, against the local stand-in."""

from __future__ import annotations

import base64
import time

import pytest

from messaging.models import AttemptOutcome, CommunicationLog
from messaging.providers.base import Attachment, ProviderError
from messaging.providers.sendgrid.sender import SendGridProvider
from messaging.refusals import outcome_of
from messaging.service import UnifiedMessagingService
from tests.helpers import otp_email

pytestmark = pytest.mark.django_db


def test_it_is_not_configured_without_an_api_key(settings):
    settings.SENDGRID_API_KEY = ""
    assert not SendGridProvider.is_configured()


def test_it_sends_with_the_api_key_to_the_configured_host(sendgrid_standin):
    result = SendGridProvider().send(otp_email())
    [request] = sendgrid_standin.requests
    assert request.headers["Authorization"] == "Bearer SG.test-key"
    mail = request.json()
    assert mail["from"] == {"email": "no-reply@otp.example.com", "name": "OTP Service"}
    assert mail["personalizations"][0]["to"] == [{"email": "alice@example.org"}]
    assert mail["subject"] == "Your code"
    assert mail["content"] == [
        {"type": "text/plain", "value": "Your code is 123456"},
        {"type": "text/html", "value": "<p>Your code is <b>123456</b></p>"},
    ]
    assert result.provider_message_id.startswith("sg-")


def test_it_carries_cc_bcc_reply_to_attachments_and_tags(sendgrid_standin):
    SendGridProvider().send(
        otp_email(
            cc=("carol@example.org",),
            bcc=("bob@example.org",),
            reply_to=("help@otp.example.com",),
            attachments=(Attachment("receipt.txt", b"paid", "text/plain"),),
            tags={"purpose": "login"},
        )
    )
    [mail] = sendgrid_standin.mails
    personalization = mail["personalizations"][0]
    assert personalization["cc"] == [{"email": "carol@example.org"}]
    assert personalization["bcc"] == [{"email": "bob@example.org"}]
    assert mail["reply_to_list"] == [{"email": "help@otp.example.com"}]
    [attachment] = mail["attachments"]
    assert (attachment["filename"], base64.b64decode(attachment["content"])) == ("receipt.txt", b"paid")
    assert mail["categories"] == ["purpose:login"]


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503])
def test_an_error_status_is_a_provider_fault_keeping_status_and_body(sendgrid_standin, status):
    sendgrid_standin.fail_with_errors(status, {"message": "nope", "field": None})
    with pytest.raises(ProviderError) as raised:
        SendGridProvider().send(otp_email())
    error = raised.value
    assert (error.status_code, outcome_of(error)) == (status, AttemptOutcome.PROVIDER_FAULT)
    assert '"nope"' in error.body
    assert error.__cause__ is not None


def test_an_invalid_recipient_address_is_a_recipient_fault(sendgrid_standin):
    sendgrid_standin.fail_with_errors(
        400, {"message": "Does not contain a valid address.", "field": "personalizations.0.to.0.email"}
    )
    with pytest.raises(ProviderError) as raised:
        SendGridProvider().send(otp_email())
    assert raised.value.recipient_fault and raised.value.status_code == 400


def test_a_hanging_api_is_abandoned_within_the_timeout(sendgrid_standin, settings):
    sendgrid_standin.hang()
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        SendGridProvider().send(otp_email())
    assert raised.value.code == "Unreachable" and outcome_of(raised.value) == AttemptOutcome.PROVIDER_FAULT
    assert time.monotonic() - started < max(settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT) + 1
    assert len(sendgrid_standin.requests) == 1


def test_the_log_holds_the_sendgrid_message_id(sendgrid_standin, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["sendgrid"]
    result = UnifiedMessagingService().send_email("alice@example.org", "Your code", "<p>123456</p>", "123456")
    assert result["success"] and result["provider"] == "sendgrid"
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert log.provider_message_id.startswith("sg-")
    assert sendgrid_standin.mails[0]["personalizations"][0]["to"] == [{"email": "alice@example.org"}]
