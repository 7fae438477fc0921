"""Email through Amazon SES v2 (boto3 `sesv2` SendEmail)."""

from __future__ import annotations

import re
from dataclasses import replace
from email.utils import formataddr, make_msgid
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from messaging.models import Channel
from messaging.providers.aws import AwsProvider, aws_client, aws_error
from messaging.providers.base import EmailMessage, Message, SendResult, encoding_error
from messaging.providers.mime import build_mime

# SES reports bounces later through its notifications, but refuses a malformed recipient at once:
# "InvalidParameterValue: Missing final '@domain'", "Local address contains control or whitespace",
# "Domain contains illegal character", "BadRequestException: Illegal address". The same codes about
# anything else are our fault (see aws.py).
SES_RECIPIENT_FAULTS: dict[str, tuple[str, ...]] = {
    "InvalidParameterValue": ("address", "domain"),
    "BadRequestException": ("address", "domain"),
}
# SES message tag names and values allow only these characters.
TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_\-]")


def email_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Name": TAG_UNSAFE.sub("_", k)[:256], "Value": TAG_UNSAFE.sub("_", v)[:256]} for k, v in tags.items()]


def simple_content(message: EmailMessage) -> dict[str, Any]:
    body = {"Text": {"Data": message.text, "Charset": "UTF-8"}}
    if message.html:
        body["Html"] = {"Data": message.html, "Charset": "UTF-8"}
    return {"Simple": {"Subject": {"Data": message.subject, "Charset": "UTF-8"}, "Body": body}}


def raw_content(message: EmailMessage, *, sender: str) -> dict[str, Any]:
    """The whole MIME message, the only way SES v2 carries attachments."""
    mime = build_mime(message, message_id=make_msgid(domain=sender.rpartition("@")[2] or "localhost"))
    return {"Raw": {"Data": mime.as_bytes()}}


class SESProvider(AwsProvider):
    name = "ses"
    display_name = "AWSSESProvider"
    channel = Channel.EMAIL

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, EmailMessage)
        sender, from_name = self.sender_of(message)
        message = replace(message, from_email=sender, from_name=from_name)  # the raw MIME's From too
        request: dict[str, Any] = {
            "FromEmailAddress": formataddr((from_name, sender)),
            "Destination": {
                "ToAddresses": [message.to],
                "CcAddresses": list(message.cc),
                "BccAddresses": list(message.bcc),
            },
            "ReplyToAddresses": list(message.reply_to),
            "Content": raw_content(message, sender=sender) if message.attachments else simple_content(message),
        }
        if message.tags:
            request["EmailTags"] = email_tags(message.tags)
        try:
            response = aws_client("sesv2", self.credential).send_email(**request)
        except (ClientError, BotoCoreError) as err:
            raise aws_error(err, recipient_faults=SES_RECIPIENT_FAULTS) from err
        except UnicodeError as err:
            raise encoding_error(err, [message.to, *message.cc, *message.bcc]) from err
        return SendResult(provider_message_id=str(response["MessageId"]))
