"""Tenant messages whose provider sent no receipt in time: one resend through the next provider.

As for codes (otp.resend): only providers set up here to report delivery are waited for, after
MESSAGING_RECEIPT_TIMEOUT_SMS / _EMAIL seconds (0 turns it off), and a message is resent at most
once (notifications.resend claims `resent_at`). Messages older than a day are no longer looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from messaging import registry
from messaging.models import Channel, MessageStatus
from messaging.receipts import expects_receipts
from notifications.models import Message

NO_RECEIPT = "no receipt in time"
OLDEST = timedelta(days=1)


def messages_without_receipt(*, now: datetime) -> list[int]:
    """Log ids of first sends still `sent` with no receipt past their channel's timeout."""
    waiting = Q()
    for channel, timeout in ((Channel.SMS, settings.MESSAGING_RECEIPT_TIMEOUT_SMS),
                             (Channel.EMAIL, settings.MESSAGING_RECEIPT_TIMEOUT_EMAIL)):  # fmt: skip
        names = [cls.name for cls in registry.chain(channel) if expects_receipts(cls.name)]
        if timeout > 0 and names:
            cutoff = now - timedelta(seconds=timeout)
            waiting |= Q(channel=channel, log__provider_used__in=names, log__sent_at__lt=cutoff,
                         log__sent_at__gte=cutoff - OLDEST)  # fmt: skip
    if not waiting:
        return []
    owed = Message.objects.filter(
        waiting, test=False, resent_at__isnull=True, log__status=MessageStatus.SENT, log__receipts__isnull=True
    )
    return list(owed.values_list("log_id", flat=True)[:500])


def resend_messages_without_receipt(*, now: datetime, enqueue: Callable[[int, str], None]) -> int:
    """Ask for one resend of each such message; returns how many."""
    owed = messages_without_receipt(now=now)
    for log_id in owed:
        enqueue(log_id, NO_RECEIPT)
    return len(owed)
