"""Twilio status callbacks: X-Twilio-Signature over the public URL and the form, with the auth token."""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from twilio.request_validator import RequestValidator

from messaging.models import Blame, ReceiptEvent
from messaging.receipts.base import MalformedReceipt, Receipt, ReceiptRefused

WEBHOOK_PATH = "/webhooks/twilio"

# MessageStatus -> our event; queued, sending, sent and accepted say nothing new and are ignored.
TWILIO_STATUSES: dict[str, str] = {
    "delivered": ReceiptEvent.DELIVERED,
    "undelivered": ReceiptEvent.FAILED,
    "failed": ReceiptEvent.FAILED,
}
# Twilio ErrorCode of a failed or undelivered message -> who is at fault. Unlisted codes: unknown.
TWILIO_ERROR_BLAME: dict[str, str] = {
    "30003": Blame.RECIPIENT,  # unreachable destination handset
    "30004": Blame.RECIPIENT,  # message blocked by the recipient
    "30005": Blame.RECIPIENT,  # unknown destination handset
    "30006": Blame.RECIPIENT,  # landline or unreachable carrier
    "21610": Blame.RECIPIENT,  # recipient opted out
    "30001": Blame.PROVIDER,  # queue overflow
    "30002": Blame.PROVIDER,  # account suspended
    "30007": Blame.PROVIDER,  # filtered by the carrier
    "30008": Blame.PROVIDER,  # unknown error
    "30032": Blame.PROVIDER,  # toll-free number not verified
    "30034": Blame.PROVIDER,  # unregistered 10DLC sender
}
TWILIO_ERROR_TEXT: dict[str, str] = {
    "30003": "unreachable destination handset",
    "30005": "unknown destination handset",
    "30007": "message filtered",
    "30008": "unknown error",
}


def status_callback_url() -> str:
    """What the send passes as StatusCallback; empty (no callbacks) until the base URL is set."""
    base = settings.MESSAGING_WEBHOOK_BASE_URL
    return f"{base}{WEBHOOK_PATH}" if base else ""


def verify_twilio(*, url: str, form: Mapping[str, str], signature: str, token: str | None = None) -> None:
    """Raise ReceiptRefused unless `signature` is Twilio's for (url, form) under the auth token of the
    account the message was sent with (`token`; default: the platform's TWILIO_AUTH_TOKEN).

    Twilio signs no timestamp, so a replay cannot be told apart; receipts are idempotent instead.
    """
    token = settings.TWILIO_AUTH_TOKEN if token is None else token
    # RequestValidator("") validates what anyone signs with the empty key: no token, no callbacks.
    if not token.strip() or not signature:
        raise ReceiptRefused("missing signature")
    if not RequestValidator(token).validate(url, dict(form), signature):
        raise ReceiptRefused("bad signature")


def message_sid(form: Mapping[str, str]) -> str:
    return form.get("MessageSid") or form.get("SmsSid") or ""


def twilio_receipts(form: Mapping[str, str]) -> list[Receipt]:
    """The receipt a verified status callback carries; none for statuses that say nothing new."""
    sid = message_sid(form)
    status = form.get("MessageStatus") or form.get("SmsStatus") or ""
    if not sid or not status:
        raise MalformedReceipt("MessageSid and MessageStatus are required")
    event = TWILIO_STATUSES.get(status)
    if event is None:
        return []
    code = form.get("ErrorCode", "") if event != ReceiptEvent.DELIVERED else ""
    blame = TWILIO_ERROR_BLAME.get(code, Blame.UNKNOWN) if event == ReceiptEvent.FAILED else Blame.NONE
    return [
        Receipt(
            provider="twilio",
            provider_message_id=sid,
            event_key=f"twilio:{sid}:{status}:{code}",
            event=event,
            blame=blame,
            reason=status if not code else f"{status}: {TWILIO_ERROR_TEXT.get(code, 'see Twilio error ' + code)}",
            code=code,
        )
    ]
