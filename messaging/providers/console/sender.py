"""Development SMS: writes the message where settings.CONSOLE_SMS_OUTPUT says.

The output is the delivery channel itself (like a phone's screen), not a log: it is where a
developer reads the code under `make run`. Never put this provider in a production chain.
"""

from __future__ import annotations

import sys
import uuid

from django.conf import settings

from messaging.models import Channel
from messaging.providers.base import Message, Provider, SendResult, SmsMessage


class ConsoleSMSProvider(Provider):
    name = "console"
    display_name = "ConsoleSMSProvider"
    channel = Channel.SMS

    @classmethod
    def is_configured(cls) -> bool:
        return bool(settings.CONSOLE_SMS_OUTPUT)

    def send(self, message: Message) -> SendResult:
        assert isinstance(message, SmsMessage)
        message_id = f"console-{uuid.uuid4()}"
        line = f"[console SMS {message_id}] to {message.to}: {message.body}\n"
        if settings.CONSOLE_SMS_OUTPUT == "-":
            sys.stdout.write(line)
            sys.stdout.flush()
        else:
            with open(settings.CONSOLE_SMS_OUTPUT, "a", encoding="utf-8") as output:
                output.write(line)
        return SendResult(provider_message_id=message_id)
