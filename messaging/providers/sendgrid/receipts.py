"""SendGrid Event Webhook: ECDSA over timestamp + body, verified by the SDK's EventWebhook helper."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from sendgrid.helpers.eventwebhook import EventWebhook

from messaging.models import Blame, ReceiptEvent
from messaging.receipts.base import MalformedReceipt, Receipt, ReceiptRefused, refuse_if_stale

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

# SendGrid event -> ours; processed, open, click and the like say nothing about delivery.
SENDGRID_EVENTS: dict[str, str] = {
    "delivered": ReceiptEvent.DELIVERED,
    "deferred": ReceiptEvent.DEFERRED,
    "bounce": ReceiptEvent.BOUNCED,
    "dropped": ReceiptEvent.FAILED,
}
# A bounce's `type`: "bounce" is the address, "blocked" is the receiving server refusing SendGrid's IP.
SENDGRID_BOUNCE_BLAME: dict[str, str] = {"bounce": Blame.RECIPIENT, "blocked": Blame.PROVIDER}
# A drop's reason -> blame; SendGrid drops addresses on its suppression lists (the recipient's doing).
SENDGRID_DROP_BLAME: dict[str, str] = {
    "Bounced Address": Blame.RECIPIENT,
    "Unsubscribed Address": Blame.RECIPIENT,
    "Spam Reporting Address": Blame.RECIPIENT,
    "Invalid": Blame.RECIPIENT,
    "Invalid SMTPAPI header": Blame.PROVIDER,
}


@lru_cache(maxsize=4)
def _verifier(public_key: str) -> EventWebhook:
    return EventWebhook(public_key)


def verify_sendgrid(*, body: bytes, signature: str, timestamp: str, now: datetime, key: str | None = None) -> None:
    """Raise ReceiptRefused unless the body is signed under `key` (default: the platform's
    SENDGRID_WEBHOOK_PUBLIC_KEY) at a timestamp within the window."""
    key = settings.SENDGRID_WEBHOOK_PUBLIC_KEY if key is None else key
    if not key or not signature or not timestamp.isdigit():
        raise ReceiptRefused("missing signature")
    try:
        valid = _verifier(key).verify_signature(body.decode("utf-8"), signature, timestamp)
    except (ValueError, UnicodeDecodeError) as err:  # not base64, not DER, not text
        raise ReceiptRefused("bad signature") from err
    if not valid:
        raise ReceiptRefused("bad signature")
    refuse_if_stale(datetime.fromtimestamp(int(timestamp), UTC), now=now)


def first_message_id(body: bytes) -> str:
    """The message id of the batch's first event that names one, read before the signature is checked
    (only to choose whose key checks it); "" when there is none or the body is not a batch."""
    try:
        events = json.loads(body)
    except ValueError:
        return ""
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict) and event.get("sg_message_id"):
            return str(event["sg_message_id"]).split(".", 1)[0]
    return ""


def sendgrid_receipts(body: bytes) -> list[Receipt]:
    """The receipts a verified Event Webhook batch carries, in the order given."""
    try:
        events = json.loads(body)
    except ValueError as err:
        raise MalformedReceipt("body is not JSON") from err
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise MalformedReceipt("body is not a list of events")
    return [receipt for event in events if (receipt := _receipt(event)) is not None]


def _receipt(event: dict[str, Any]) -> Receipt | None:
    ours = SENDGRID_EVENTS.get(str(event.get("event", "")))
    if ours is None:
        return None
    # sg_message_id is the X-Message-Id of the send, followed by ".filter..." per recipient.
    message_id = str(event.get("sg_message_id", "")).split(".", 1)[0]  # as first_message_id reads it
    reason = str(event.get("reason") or event.get("response") or "")
    blame = str(Blame.NONE)
    if ours == ReceiptEvent.BOUNCED:
        blame = SENDGRID_BOUNCE_BLAME.get(str(event.get("type", "bounce")), Blame.RECIPIENT)
        if blame == Blame.PROVIDER:
            ours = ReceiptEvent.FAILED
    elif ours == ReceiptEvent.FAILED:
        blame = SENDGRID_DROP_BLAME.get(reason, Blame.UNKNOWN)
    timestamp = event.get("timestamp")
    return Receipt(
        provider="sendgrid",
        provider_message_id=message_id,
        event_key=f"sendgrid:{event.get('sg_event_id') or message_id + ':' + str(event.get('event'))}",
        event=ours,
        blame=blame,
        reason=reason,
        code=str(event.get("status", "")),
        occurred_at=datetime.fromtimestamp(int(timestamp), UTC) if isinstance(timestamp, int) else None,
    )
