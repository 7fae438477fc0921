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


def receipt_summary(provider: str, *, now: datetime | None = None) -> dict[str, Any]:
    """{"receipts": {"delivered_share_last_hour", "awaiting_receipt"}} or {"receipts": None}.

    None for a provider that sends no receipts here; the share is None when it sent nothing.
    Counts only messages the provider accepted in the last hour (one indexed query).
    """
    if not expects_receipts(provider):
        return {"receipts": None}
    since = (now or timezone.now()) - timedelta(hours=1)
    accepted = CommunicationLog.objects.filter(provider_used=provider, sent_at__gte=since, status__in=ACCEPTED)
    try:
        counts = accepted.aggregate(
            accepted=Count("pk"),
            delivered=Count("pk", filter=Q(status=MessageStatus.DELIVERED)),
            awaiting=Count("pk", filter=Q(status=MessageStatus.SENT)),
        )
    except DatabaseError:
        # Provider health must answer without the database; these counts are extra detail.
        return {"receipts": {"unavailable": "database"}}
    share = round(counts["delivered"] / counts["accepted"], 3) if counts["accepted"] else None
    return {"receipts": {"delivered_share_last_hour": share, "awaiting_receipt": counts["awaiting"]}}
