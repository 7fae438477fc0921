"""SNS SMS receipts: SNS writes SMS delivery status only to CloudWatch Logs, so beat reads them.

Each entry of the groups in SNS_SMS_DELIVERY_LOG_GROUPS (``sns/<region>/<account>/
DirectPublishToPhoneNumber`` and its ``/Failure`` twin) becomes one receipt, keyed by the log
event id. A cursor in Redis remembers how far each group was read; each read overlaps the last
by a minute, which the event keys make harmless.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.utils import timezone

from messaging.models import Blame, ReceiptEvent
from messaging.providers.aws import aws_client
from messaging.receipts.base import Receipt
from messaging.receipts.pending import apply_or_park
from otpsite.logs import log_event
from otpsite.redis import get_redis

logger = logging.getLogger("messaging.receipts")

OVERLAP_MS = 60_000
FIRST_LOOK_BACK_MS = 3_600_000
# providerResponse of a FAILURE entry (lower case, a phrase it holds) -> blame; unlisted: unknown.
SNS_FAILURE_BLAME: dict[str, str] = {
    "opted out": Blame.RECIPIENT,
    "invalid phone number": Blame.RECIPIENT,
    "phone is currently unreachable": Blame.RECIPIENT,
    "phone has blocked sms": Blame.RECIPIENT,
    "blocked as spam by phone carrier": Blame.PROVIDER,
    "unknown error attempting to reach phone": Blame.PROVIDER,
    "phone carrier is currently unreachable": Blame.PROVIDER,
    "rejected by phone carrier": Blame.PROVIDER,
    "exceeded max price": Blame.PROVIDER,
}


def read_delivery_logs(*, now: datetime | None = None) -> int:
    """Apply every delivery-status entry written since the last read. Returns how many were read."""
    now_ms = int((now or timezone.now()).timestamp() * 1000)
    count = 0
    for group in settings.SNS_SMS_DELIVERY_LOG_GROUPS:
        cursor_key = f"{settings.REDIS_KEY_PREFIX}:sns-sms-receipts:{group}"
        stored = get_redis().get(cursor_key)
        start = (int(stored) if stored else now_ms - FIRST_LOOK_BACK_MS + OVERLAP_MS) - OVERLAP_MS  # type: ignore[arg-type]
        try:
            events = list(_events(group, start_ms=start, end_ms=now_ms))
        except (ClientError, BotoCoreError) as err:
            log_event(logger, "receipt.sns_logs_unreadable", level=logging.WARNING, group=group,
                      error=type(err).__name__)  # fmt: skip
            continue
        for event in events:
            receipt = sns_sms_receipt(event)
            if receipt is not None:
                apply_or_park(receipt)
        get_redis().set(cursor_key, now_ms)
        count += len(events)
    return count


def _events(group: str, *, start_ms: int, end_ms: int) -> Any:
    paginator = aws_client("logs").get_paginator("filter_log_events")
    for page in paginator.paginate(logGroupName=group, startTime=start_ms, endTime=end_ms):
        yield from page.get("events", [])


def sns_sms_receipt(event: dict[str, Any]) -> Receipt | None:
    """The receipt one CloudWatch Logs entry of SNS SMS delivery status carries."""
    try:
        entry = json.loads(event["message"])
        message_id = str(entry["notification"]["messageId"])
        status = str(entry["status"])
    except (KeyError, TypeError, ValueError):
        return None
    response = str((entry.get("delivery") or {}).get("providerResponse", ""))
    if status == "SUCCESS":
        ours, blame = ReceiptEvent.DELIVERED, str(Blame.NONE)
    elif status == "FAILURE":
        lowered = response.lower()
        ours = ReceiptEvent.FAILED
        blame = next((b for phrase, b in SNS_FAILURE_BLAME.items() if phrase in lowered), Blame.UNKNOWN)
    else:
        return None
    return Receipt(
        provider="sns",
        provider_message_id=message_id,
        event_key=f"sns:{event.get('eventId') or message_id + ':' + status}",
        event=ours,
        blame=blame,
        reason=response[:500],
        code=status,
        occurred_at=datetime.fromtimestamp(int(event["timestamp"]) / 1000, UTC) if event.get("timestamp") else None,
    )
