"""PLACEHOLDER until the real SDK provider lands (issue 3)."""

from __future__ import annotations

from messaging.models import Channel
from messaging.providers.base import Message, Provider, SendResult


class SESProvider(Provider):
    name = "ses"
    display_name = "AWSSESProvider"
    channel = Channel.EMAIL

    @classmethod
    def is_configured(cls) -> bool:
        return False

    def send(self, message: Message) -> SendResult:
        raise NotImplementedError
