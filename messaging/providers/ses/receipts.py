"""SES events (event publishing or notifications) delivered through an SNS HTTPS subscription."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from messaging.models import Blame, ReceiptEvent
from messaging.receipts.base import MalformedReceipt, Receipt

# SES eventType / notificationType -> ours; Send, Open, Click and Complaint say nothing about delivery.
SES_EVENTS: dict[str, str] = {
    "Delivery": ReceiptEvent.DELIVERED,
    "Bounce": ReceiptEvent.BOUNCED,
    "DeliveryDelay": ReceiptEvent.DEFERRED,
    "Reject": ReceiptEvent.FAILED,
    "Rendering Failure": ReceiptEvent.FAILED,
}
# bounceType -> (our event, blame): a permanent bounce is the address; a transient one the mailbox
# (full, auto-reply); an undetermined one is SES failing to say, which we hold against it.
SES_BOUNCES: dict[str, tuple[str, str]] = {
    "Permanent": (ReceiptEvent.BOUNCED, Blame.RECIPIENT),
    "Transient": (ReceiptEvent.FAILED, Blame.RECIPIENT),
    "Undetermined": (ReceiptEvent.FAILED, Blame.PROVIDER),
}


def ses_receipts(notification: dict[str, Any]) -> list[Receipt]:
    """The receipt a verified SNS Notification about an SES message carries, if any."""
    try:
        event = json.loads(notification["Message"])
        kind = str(event.get("eventType") or event.get("notificationType") or "")
        ses_message_id = str(event["mail"]["messageId"])
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise MalformedReceipt("not an SES event") from err
    ours = SES_EVENTS.get(kind)
    if ours is None:
        return []
    blame, reason, code = str(Blame.NONE), "", ""
    if kind == "Bounce":
        bounce = event.get("bounce") or {}
        ours, blame = SES_BOUNCES.get(str(bounce.get("bounceType")), (ReceiptEvent.FAILED, Blame.UNKNOWN))
        recipients = bounce.get("bouncedRecipients") or [{}]
        reason = f"{bounce.get('bounceType')}/{bounce.get('bounceSubType')}"
        code = str(recipients[0].get("status", ""))
    elif ours == ReceiptEvent.FAILED:
        blame = Blame.PROVIDER
        reason = str((event.get("reject") or event.get("failure") or {}).get("reason", kind))
    detail = event.get(kind[:1].lower() + kind[1:]) or {}
    return [
        Receipt(
            provider="ses",
            provider_message_id=ses_message_id,
            event_key=f"ses:{notification.get('MessageId')}",
            event=ours,
            blame=blame,
            reason=reason[:500],
            code=code,
            occurred_at=_when(detail.get("timestamp") if isinstance(detail, dict) else None),
        )
    ]


def _when(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")) if value else None
    except ValueError:
        return None
