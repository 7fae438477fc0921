"""PLACEHOLDER until the real SDK provider lands (issue 3)."""

from __future__ import annotations

from messaging.models import Channel
from messaging.providers.base import Message, Provider, SendResult


class TwilioProvider(Provider):
    name = "twilio"
    display_name = "TwilioProvider"
    channel = Channel.SMS

    @classmethod
    def is_configured(cls) -> bool:
        return False

    def send(self, message: Message) -> SendResult:
        raise NotImplementedError
