"""Twilio on the official SDK, against the local stand-in."""

from __future__ import annotations

import base64
import time

import pytest

from messaging.models import AttemptOutcome, CommunicationLog
from messaging.providers.base import ProviderError, SmsMessage
from messaging.providers.twilio.sender import TwilioProvider
from messaging.refusals import outcome_of
from messaging.service import UnifiedMessagingService
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID

pytestmark = pytest.mark.django_db

OTP_SMS = SmsMessage(to="+447700900123", body="Your code is 123456")


def test_it_is_not_configured_without_credentials(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    assert not TwilioProvider.is_configured()


def test_it_is_not_configured_without_a_sender(twilio_standin, settings):
    settings.TWILIO_FROM_NUMBER = ""
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    assert not TwilioProvider.is_configured()


def test_it_sends_from_the_number_with_the_account_credentials(twilio_standin):
    result = TwilioProvider().send(OTP_SMS)
    [request] = twilio_standin.requests
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert (
        request.headers["Authorization"]
        == "Basic " + base64.b64encode(f"{TWILIO_SID}:test-auth-token".encode()).decode()
    )
    assert request.form() == {"To": "+447700900123", "From": TWILIO_FROM, "Body": "Your code is 123456"}
    assert result.provider_message_id.startswith("SM")


def test_it_sends_through_the_messaging_service_when_one_is_set(twilio_standin, settings):
    settings.TWILIO_MESSAGING_SERVICE_SID = "MG" + "0" * 32
    TwilioProvider().send(OTP_SMS)
    [form] = twilio_standin.messages
    assert form["MessagingServiceSid"] == "MG" + "0" * 32
    assert "From" not in form


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +447700900123 is not a valid phone number."),
        (21614, "'To' number is not a valid mobile number"),
        (21610, "Attempt to send to unsubscribed recipient"),
    ],
)
def test_an_invalid_or_opted_out_number_is_a_recipient_fault(twilio_standin, code, message):
    twilio_standin.fail_with_code(code, message)
    with pytest.raises(ProviderError) as raised:
        TwilioProvider().send(OTP_SMS)
    assert raised.value.recipient_fault
    assert (raised.value.code, raised.value.status_code) == (str(code), 400)
    assert message in str(raised.value)
    assert raised.value.__cause__ is not None


@pytest.mark.parametrize(("status", "code"), [(401, 20003), (429, 20429), (500, 20500)])
def test_bad_credentials_throttling_and_server_errors_are_provider_faults(twilio_standin, status, code):
    twilio_standin.fail_with_code(code, "refused", status=status)
    with pytest.raises(ProviderError) as raised:
        TwilioProvider().send(OTP_SMS)
    error = raised.value
    assert (error.status_code, error.code, outcome_of(error)) == (status, str(code), AttemptOutcome.PROVIDER_FAULT)


def test_a_hanging_api_is_abandoned_within_the_read_timeout(twilio_standin, settings):
    twilio_standin.hang()
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        TwilioProvider().send(OTP_SMS)
    assert raised.value.code == "Unreachable" and outcome_of(raised.value) == AttemptOutcome.PROVIDER_FAULT
    assert time.monotonic() - started < settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT + 1


def test_the_log_holds_the_twilio_message_sid(twilio_standin, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    result = UnifiedMessagingService().send_sms("+447700900123", "Your code is 123456")
    assert result["success"] and result["provider"] == "twilio"
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert log.provider_message_id.startswith("SM")
    assert twilio_standin.messages[0]["To"] == "+447700900123"
