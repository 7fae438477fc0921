"""What /health/messaging says about receipts: per provider, the last hour's delivered share and backlog."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError
from django.db.models import Count, Q
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from messaging.receipts import expects_receipts

ACCEPTED = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED, MessageStatus.FAILED)


def receipt_summary(provider: str, *, now: datetime | None = None, counts: bool = True) -> dict[str, Any]:
    """{"receipts": {"expected": true, "delivered_share_last_hour", "awaiting_receipt"}} or {"receipts": None}.

    None for a provider that sends no receipts here; the share is None when it sent nothing.
    Counts only messages the provider accepted in the last hour (one indexed query). Without
    `counts` (anonymous callers: counts would let an attacker watch the effect of forged or
    suppressed receipts) only {"expected": true}, and no query.
    """
    if not expects_receipts(provider):
        return {"receipts": None}
    if not counts:
        return {"receipts": {"expected": True}}
    since = (now or timezone.now()) - timedelta(hours=1)
    accepted = CommunicationLog.objects.filter(provider_used=provider, sent_at__gte=since, status__in=ACCEPTED)
    try:
        found = accepted.aggregate(
            accepted=Count("pk"),
            delivered=Count("pk", filter=Q(status=MessageStatus.DELIVERED)),
            awaiting=Count("pk", filter=Q(status=MessageStatus.SENT)),
        )
    except DatabaseError:
        # Provider health must answer without the database; these counts are extra detail.
        return {"receipts": {"unavailable": "database"}}
    share = round(found["delivered"] / found["accepted"], 3) if found["accepted"] else None
    return {"receipts": {"expected": True, "delivered_share_last_hour": share, "awaiting_receipt": found["awaiting"]}}
