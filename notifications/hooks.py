"""What happens around a tenant message's delivery: events for callbacks, the resend handler."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal

from messaging import events, resend_handlers
from messaging.models import MessageStatus
from messaging.receipts.base import RESEND_BLAMES
from messaging.service import DeliveryOutcome
from notifications.models import MESSAGE_KIND, Message

# Sent after commit with `message` and `event` (e.g. "message.sent"); callbacks connect to it.
message_event = Signal()

# A log status -> the event a tenant's callback endpoint gets.
EVENTS = {
    MessageStatus.SENT: "message.sent",
    MessageStatus.DELIVERED: "message.delivered",
    MessageStatus.FAILED: "message.failed",
    MessageStatus.BOUNCED: "message.failed",
}


def connect() -> None:
    resend_handlers.register(MESSAGE_KIND, _enqueue_resend)
    events.status_changed.connect(_on_status_changed, dispatch_uid="notifications.status_changed")
    from notifications.callbacks.events import on_code_verified, on_message_event
    from otp.events import code_verified

    message_event.connect(on_message_event, dispatch_uid="notifications.callbacks")
    code_verified.connect(on_code_verified, dispatch_uid="notifications.callbacks.otp_verified")


def _enqueue_resend(log_id: int, reason: str) -> None:
    from notifications.tasks import resend_message

    resend_message.delay(log_id, reason)


def _on_status_changed(sender: Any, *, log_id: int, status: str, **kwargs: Any) -> None:
    message = (
        Message.objects.select_related("log", "resend_log", "tenant").filter(log_id=log_id).first()
        or Message.objects.select_related("log", "resend_log", "tenant").filter(resend_log_id=log_id).first()
    )
    if message is None:
        return
    failed = status in (MessageStatus.FAILED, MessageStatus.BOUNCED)
    if failed and message.resend_log_id is None and _resend_asked(message):
        # Not the end: the resend through the next provider announces how it went.
        return
    announce(message, status)


def _resend_asked(message: Message) -> bool:
    return message.log.receipts.filter(changed_status=True, blame__in=list(RESEND_BLAMES)).exists()


def delivery_finished(message: Message, outcome: DeliveryOutcome) -> None:
    announce(message, outcome.status)


def announce(message: Message, status: str) -> None:
    """Queue the tenant's callbacks for `status` once the current transaction commits."""
    event = EVENTS.get(MessageStatus(status)) if status in MessageStatus.values else None
    if event is None:
        return
    transaction.on_commit(lambda: message_event.send(sender=Message, message=message, event=event))
