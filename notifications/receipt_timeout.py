"""Tenant messages whose provider sent no receipt in time: one resend through the next provider.

The same rule as for codes (messaging.receipt_timeout); a message is resent at most once
(notifications.resend claims `resent_at`). Messages older than a day are no longer looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from messaging.conditions import through
from messaging.receipt_timeout import without_receipt
from notifications.models import Message

NO_RECEIPT = "no receipt in time"
OLDEST = timedelta(days=1)


def messages_without_receipt(*, now: datetime) -> list[int]:
    """Log ids of first sends still `sent` with no receipt past their channel's timeout."""
    waiting = without_receipt(now=now, look_back=OLDEST)
    if waiting is None:
        return []
    owed = Message.objects.filter(through("log", waiting), test=False, resent_at__isnull=True)
    return list(owed.values_list("log_id", flat=True)[:500])


def resend_messages_without_receipt(*, now: datetime, enqueue: Callable[[int, str], None]) -> int:
    """Ask for one resend of each such message; returns how many."""
    owed = messages_without_receipt(now=now)
    for log_id in owed:
        enqueue(log_id, NO_RECEIPT)
    return len(owed)
