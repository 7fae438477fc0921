"""SmsBird status reports: HMAC-SHA256 over timestamp and body with the signing key, then receipts."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from django.conf import settings

from messaging.models import Blame, ReceiptEvent
from messaging.receipts.base import MalformedReceipt, Receipt, ReceiptRefused, refuse_if_stale

SIGNATURE_HEADER = "SmsBird-Signature"
TIMESTAMP_HEADER = "SmsBird-Request-Timestamp"

# SmsBird status -> our event; "sent" and "buffered" say nothing new.
SMSBIRD_STATUSES: dict[str, str] = {"delivered": ReceiptEvent.DELIVERED, "delivery_failed": ReceiptEvent.FAILED}
# statusErrorCode of a failed message -> who is at fault; unlisted: unknown (one resend).
SMSBIRD_ERROR_BLAME: dict[str, str] = {"1": Blame.RECIPIENT, "2": Blame.RECIPIENT, "104": Blame.PROVIDER}


def verify_smsbird(*, body: bytes, signature: str, timestamp: str, now: datetime) -> None:
    """Raise ReceiptRefused unless the report is signed with our key at a timestamp within the window."""
    key = settings.SMSBIRD_SIGNING_KEY
    if not key or not signature or not timestamp.isdigit():
        raise ReceiptRefused("missing signature")
    expected = hmac.new(key.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise ReceiptRefused("bad signature")
    refuse_if_stale(datetime.fromtimestamp(int(timestamp), UTC), now=now)


def smsbird_receipts(body: bytes) -> list[Receipt]:
    """The receipt a verified status report carries; none for a status that says nothing new."""
    try:
        report = json.loads(body)
        message_id, status = str(report["id"]), str(report["status"])
    except (ValueError, KeyError, TypeError) as err:
        raise MalformedReceipt("id and status are required") from err
    event = SMSBIRD_STATUSES.get(status)
    if event is None:
        return []
    code = str(report.get("statusErrorCode") or "")
    blame = SMSBIRD_ERROR_BLAME.get(code, Blame.UNKNOWN) if event == ReceiptEvent.FAILED else Blame.NONE
    return [Receipt(provider="smsbird", provider_message_id=message_id, event_key=f"smsbird:{message_id}:{status}",
                    event=event, blame=blame, reason=status, code=code)]  # fmt: skip
