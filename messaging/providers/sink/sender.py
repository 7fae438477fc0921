"""Where a test key's messages go: the whole path runs, no provider is called, nothing costs money.

A log row whose metadata says `"test": true` is delivered to the sink instead of its channel's chain.
The sink is in no chain and in no price table, so it is free and never counts against a quota.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from messaging.models import Channel, CommunicationLog
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


def sink_chain(log: CommunicationLog) -> list[type[Provider]] | None:
    """[TestSink] for a test key's log row; None (the channel's chain) for any other."""
    return [TestSink] if log.metadata.get("test") is True else None
