"""Where a test key's messages go: the whole path runs, no provider is called, nothing costs money."""

from __future__ import annotations

import uuid
from typing import ClassVar

from messaging.models import Channel
from messaging.providers.base import Message, Provider, SendResult


class TestSink(Provider):
    name: ClassVar[str] = "test-sink"
    display_name: ClassVar[str] = "Test sink"
    channel: ClassVar[Channel] = Channel.EMAIL  # takes both channels; never in a configured chain

    @classmethod
    def is_configured(cls) -> bool:
        return True

    def send(self, message: Message) -> SendResult:
        return SendResult(provider_message_id=f"test-{uuid.uuid4()}")
