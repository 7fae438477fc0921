"""Turning a tenant message's announced event into callback deliveries."""

from __future__ import annotations

from typing import Any

from notifications import presenters
from notifications.callbacks.dispatch import enqueue_event
from notifications.models import Message

# The status each event reports, whatever the message has moved on to since.
EVENT_STATUS = {"message.sent": "sent", "message.delivered": "delivered", "message.failed": "failed"}
EVENT_TYPES = (*EVENT_STATUS,)


def on_message_event(sender: Any, *, message: Message, event: str, **kwargs: Any) -> None:
    from notifications.tasks import publish_callback

    fresh = Message.objects.select_related("log", "resend_log", "tenant").get(pk=message.pk)
    data = {**presenters.summary(fresh), "status": EVENT_STATUS.get(event, fresh.status)}
    data.pop("links", None)
    enqueue_event(fresh.tenant, event, data, publish=publish_callback)
