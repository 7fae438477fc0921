"""SNS on boto3 `sns` Publish, against moto's server."""

from __future__ import annotations

import time

import pytest

from messaging.models import AttemptOutcome, CommunicationLog
from messaging.providers.base import ProviderError, SmsMessage
from messaging.providers.sns.sender import SNSProvider, sms_attributes
from messaging.refusals import outcome_of
from messaging.service import UnifiedMessagingService

pytestmark = pytest.mark.django_db


def test_it_publishes_the_sms_to_the_e164_number(aws):
    result = SNSProvider().send(SmsMessage(to="+447700900123", body="Your code is 123456"))
    assert aws.sent_sms() == [
        {"message_id": result.provider_message_id, "phone_number": "+447700900123", "message": "Your code is 123456"}
    ]


def test_it_asks_for_transactional_sms_and_the_sender_id_when_there_is_one(settings):
    settings.SNS_SENDER_ID = ""
    assert sms_attributes() == {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
    settings.SNS_SENDER_ID = "OTPSVC"
    assert sms_attributes()["AWS.SNS.SMS.SenderID"] == {"DataType": "String", "StringValue": "OTPSVC"}


def test_a_sender_id_does_not_stop_the_publish(aws, settings):
    settings.SNS_SENDER_ID = "OTPSVC"
    SNSProvider().send(SmsMessage(to="+447700900123", body="hello"))
    assert len(aws.sent_sms()) == 1


def test_an_invalid_phone_number_is_a_recipient_fault(aws):
    with pytest.raises(ProviderError) as raised:
        SNSProvider().send(SmsMessage(to="+0123", body="Your code is 123456"))
    assert raised.value.recipient_fault
    assert raised.value.code == "InvalidParameter"
    assert "E164" in str(raised.value)
    assert aws.sent_sms() == []


def test_an_unreachable_endpoint_is_a_passing_provider_fault(aws, settings, closed_port_url):
    settings.AWS_ENDPOINT_URL = closed_port_url
    with pytest.raises(ProviderError) as raised:
        SNSProvider().send(SmsMessage(to="+447700900123", body="hello"))
    assert outcome_of(raised.value) == AttemptOutcome.PROVIDER_FAULT


def test_a_silent_endpoint_is_abandoned_within_the_read_timeout(aws, settings, silent_url):
    settings.AWS_ENDPOINT_URL = silent_url
    started = time.monotonic()
    with pytest.raises(ProviderError) as raised:
        SNSProvider().send(SmsMessage(to="+447700900123", body="hello"))
    assert raised.value.code == "Timeout"
    # One attempt only (botocore would otherwise retry): the connection is made at once, the read times out.
    assert time.monotonic() - started < settings.PROVIDER_READ_TIMEOUT + 0.75


def test_the_log_holds_the_sns_message_id(aws):
    result = UnifiedMessagingService().send_sms("+447700900123", "Your code is 123456")
    assert result["success"] and result["provider"] == "sns"
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    [sms] = aws.sent_sms()
    assert log.provider_message_id == sms["message_id"]
