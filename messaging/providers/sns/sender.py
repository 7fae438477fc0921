"""SMS through Amazon SNS (boto3 `sns` Publish to a phone number)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from messaging.models import Channel
from messaging.providers.aws import AwsProvider, aws_client, aws_error
from messaging.providers.base import Message, SendResult, SmsMessage, encoding_error

# AWS error code -> a word its message holds when the recipient is at fault. SNS answers
# "InvalidParameter: Invalid parameter: PhoneNumber Reason: ... is not valid" for a bad number;
# the same code about any other parameter (a sender id, an attribute) is our fault, not theirs.
SNS_RECIPIENT_FAULTS: dict[str, tuple[str, ...]] = {
    "InvalidParameter": ("phone",),
    "InvalidParameterValue": ("phone",),
}


def sms_attributes(sender_id: str | None = None) -> dict[str, dict[str, str]]:
    """SNS's attributes for a transactional SMS from `sender_id` (default: settings.SNS_SENDER_ID)."""
    sender_id = settings.SNS_SENDER_ID if sender_id is None else sender_id
    attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
    if sender_id:
        attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": sender_id}
    return attributes


class SNSProvider(AwsProvider):
    name = "sns"
    display_name = "AWSSNSProvider"
    channel = Channel.SMS

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, SmsMessage)
        request: dict[str, Any] = {
            "PhoneNumber": message.to,
            "Message": message.body,
            "MessageAttributes": sms_attributes(self.setting("SNS_SENDER_ID")),
        }
        try:
            response = aws_client("sns", self.credential).publish(**request)
        except (ClientError, BotoCoreError) as err:
            raise aws_error(err, recipient_faults=SNS_RECIPIENT_FAULTS) from err
        except UnicodeError as err:
            raise encoding_error(err, [message.to]) from err
        return SendResult(provider_message_id=str(response["MessageId"]))
