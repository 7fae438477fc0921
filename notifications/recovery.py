"""The way back for accepted tenant messages whose delivery task was lost (as otp.recovery for codes).

A message whose log row is lost (messaging.models.is_lost: still `queued` OTP_RECOVERY_GRACE_SECONDS
after it was accepted or its retry was due, or still `sending` past its claim lease) gets its
delivery published again; the claim in notifications.delivery keeps that to one send.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db.models import Q

from messaging.conditions import through
from messaging.models import CommunicationLog, MessageStatus, is_lost
from notifications.models import Message

SWEEP_BATCH = 500


def lost_messages(*, now: datetime) -> Q:
    return through("log", is_lost(now))


def anything_lost(*, now: datetime) -> bool:
    """Whether a sweep now would publish a message again (beat asks before sending the sweep)."""
    return Message.objects.filter(lost_messages(now=now)).exists()


def recover_queued_messages(*, now: datetime, publish: Callable[[int], None]) -> int:
    """Publish each lost message once more (at most SWEEP_BATCH a sweep); returns how many."""
    lost = Message.objects.filter(lost_messages(now=now)).order_by("id")
    pks = list(lost.values_list("pk", flat=True)[:SWEEP_BATCH])
    # For a queued row claimed_at is when its delivery was last published: the next sweep waits a grace again.
    CommunicationLog.objects.filter(tenant_message__pk__in=pks, status=MessageStatus.QUEUED).update(claimed_at=now)
    for pk in pks:
        publish(pk)
    return len(pks)
