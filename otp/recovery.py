"""The way back for accepted codes that does not trust the broker.

A 202 from send is a promise. The task that keeps it can be lost: a worker killed while it
held the message, a Redis that restarts empty or is flushed, a web process that dies between
its commit and its publish. The database still says what is owed, so a sweep on beat
(``recover_undelivered_codes``, every OTP_RECOVERY_SWEEP_SECONDS) reads it back:

- a log row still ``queued`` OTP_RECOVERY_GRACE_SECONDS after its delivery was last published
  (or was due, for a retry in backoff), or
- a log row still ``sending`` after its claim lease (OTP_CLAIM_LEASE_SECONDS), which only a dead
  worker leaves behind, since a live one is stopped by the task time limit first,

whose code is still valid gets ``deliver_otp`` published again. The log-row claim in
otp/delivery.py keeps that to one send. Rows whose code expired or was replaced meanwhile are
settled as failed, so nothing stays pending for ever.

A resend through the next provider (otp/resend.py) has a log row of its own, under the same rule:
left ``sending`` past its lease, or ``queued`` past the grace period after the sweep published it,
it is handed to ``resume_lost_resend`` while its code is live, which claims the row (queued ->
sending, so one worker sends) and sends a new resend code. A code stays at one resend: the row is
the one its claim wrote, never a second.

A sweep published by beat expires after one interval: behind a backlog longer than that, where
the owed tasks are still in the queue, it does not run, so it cannot swell the backlog further.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import BooleanField, ExpressionWrapper, Q

from messaging.conditions import through
from messaging.models import CommunicationLog, CommunicationLogQuerySet, MessageStatus, is_claimable, lease_start
from messaging.records import mark_failed
from otp.models import OneTimeCode, is_live
from otp.resend import RESEND_OF, providers_after, send_resend
from otpsite.logs import log_event

logger = logging.getLogger("otp.recovery")

# At most this many rows are published again per sweep; the next sweep takes the rest.
SWEEP_BATCH = 500
EXPIRED_ERROR = "code replaced or expired before delivery"


@dataclass(frozen=True)
class SweepResult:
    republished: int
    settled_stale: int


def pending_codes() -> CommunicationLogQuerySet:
    """OTP log rows that no provider has taken yet (queued, or sending), oldest first."""
    return CommunicationLog.objects.filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING], one_time_code__isnull=False
    ).order_by("created_at")


def _live_code(now: datetime) -> Q:
    return through("one_time_code", is_live(now))


def anything_lost(*, now: datetime) -> bool:
    """Whether a sweep now would find a row to publish again or settle (beat asks before sending it)."""
    return pending_codes().lost(now=now).exists() or _lost_resends(now=now).exists()


def recover_undelivered_codes(*, now: datetime, publish: Callable[[str], None]) -> SweepResult:
    """Publish delivery again for every lost, still valid code; settle lost codes that died.

    `publish(otp_id)` is called after the rows are marked, outside the transaction. A publish
    that raises stops the sweep (the broker is down); those rows are looked at again after
    the grace period.
    """
    settled = _settle_stale(now=now)
    with transaction.atomic():
        lost = pending_codes().lost(now=now).filter(_live_code(now)).select_for_update(skip_locked=True, of=("self",))
        rows = list(lost.values_list("pk", "one_time_code__id")[:SWEEP_BATCH])
        # Back to queued and stamped: a stale claim is released, and the next sweep waits a grace period.
        CommunicationLog.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            status=MessageStatus.QUEUED, claimed_at=now
        )
    published = 0
    for _log_id, otp_id in rows:
        publish(str(otp_id))
        published += 1
    if published or settled:
        log_event(logger, "otp.recovery", republished=published, settled_stale=settled)
    return SweepResult(republished=published, settled_stale=settled)


def _settle_stale(*, now: datetime) -> int:
    """Lost rows whose code can no longer be used are failed: nobody can be waiting for them."""
    ids = list(pending_codes().lost(now=now).exclude(_live_code(now)).values_list("pk", flat=True)[:SWEEP_BATCH])
    if not ids:
        return 0
    # The same conditions again in the UPDATE: a row claimed meanwhile is left to its worker.
    return (
        CommunicationLog.objects.filter(pk__in=ids)
        .lost(now=now)
        .update(status=MessageStatus.FAILED, error_message=EXPIRED_ERROR)
    )


@dataclass(frozen=True)
class Backlog:
    """Accepted codes not yet handed to a provider, for health and the operators' command."""

    count: int
    oldest_age_seconds: float | None


def owed_codes(*, now: datetime) -> CommunicationLogQuerySet:
    """Pending rows whose code can still verify: the deliveries the service still owes."""
    return pending_codes().filter(_live_code(now))


def backlog(*, now: datetime) -> Backlog:
    rows = owed_codes(now=now)
    oldest = rows.values_list("created_at", flat=True).first()
    return Backlog(count=rows.count(), oldest_age_seconds=(now - oldest).total_seconds() if oldest else None)


def requeue(log_id: int, *, now: datetime, publish: Callable[[str], None]) -> str:
    """Publish one pending code again now (the operator's hand on the sweep). Returns what happened."""
    claimable = ExpressionWrapper(
        is_claimable(lease_start(now, settings.OTP_CLAIM_LEASE_SECONDS)), output_field=BooleanField()
    )
    row = pending_codes().filter(pk=log_id).annotate(claimable=claimable)
    found = row.values_list("one_time_code__id", "status", "claimable").first()
    if found is None:
        return "not pending"
    otp_id, status, claimable_now = found
    if not claimable_now:
        return "claimed by a live worker"
    CommunicationLog.objects.filter(pk=log_id, status=status).update(status=MessageStatus.QUEUED, claimed_at=now)
    publish(str(otp_id))
    return "requeued"


def backlog_report(*, now: datetime) -> dict[str, Any]:
    """The `pending_deliveries` entry of GET /health/messaging; never raises for a dead database."""
    try:
        pending = backlog(now=now)
    except DatabaseError as err:
        return {"count": None, "oldest_age_seconds": None, "error": type(err).__name__}
    age = None if pending.oldest_age_seconds is None else round(pending.oldest_age_seconds, 1)
    return {"count": pending.count, "oldest_age_seconds": age}


def _lost_resends(*, now: datetime) -> CommunicationLogQuerySet:
    return CommunicationLog.objects.lost(now=now).filter(
        status__in=[MessageStatus.QUEUED, MessageStatus.SENDING], metadata__has_key=RESEND_OF
    )


def recover_lost_resends(*, now: datetime, publish: Callable[[int], None]) -> SweepResult:
    """Publish `resume_lost_resend` again for each lost resend whose code is live; fail the others.

    `publish(resend_log_id)` is called after the rows are marked, outside the transaction.
    """
    with transaction.atomic():
        rows = list(
            _lost_resends(now=now).select_for_update(skip_locked=True).values_list("pk", "metadata")[:SWEEP_BATCH]
        )
        firsts = {pk: str(metadata.get(RESEND_OF, "")) for pk, metadata in rows}
        live = _first_sends_of_live_codes(set(firsts.values()), now=now)
        owed = [pk for pk, first in firsts.items() if first in live]
        dead = [pk for pk in firsts if pk not in owed]
        CommunicationLog.objects.filter(pk__in=owed).update(status=MessageStatus.QUEUED, claimed_at=now)
        CommunicationLog.objects.filter(pk__in=dead).update(status=MessageStatus.FAILED, error_message=EXPIRED_ERROR)
    for pk in owed:
        publish(pk)
    if owed or dead:
        log_event(logger, "otp.recovery.resends", republished=len(owed), settled_stale=len(dead))
    return SweepResult(republished=len(owed), settled_stale=len(dead))


def _first_sends_of_live_codes(message_ids: set[str], *, now: datetime) -> set[str]:
    """Those of the first sends' `message_ids` whose code can still verify."""
    live = OneTimeCode.objects.filter(log__message_id__in=message_ids).live(now)
    return {str(message_id) for message_id in live.values_list("log__message_id", flat=True)}


def resume_lost_resend(resend_log_id: int, *, now: datetime) -> str:
    """Send the resend whose worker was lost, once: claim its queued log row, then send a new code.

    Returns the resend log's status, or why nothing was sent.
    """
    claimed = CommunicationLog.objects.filter(
        pk=resend_log_id, status=MessageStatus.QUEUED, metadata__has_key=RESEND_OF
    ).update(status=MessageStatus.SENDING, claimed_at=now)
    if not claimed:
        return "not owed"  # sent, failed, or claimed by another worker
    log = CommunicationLog.objects.get(pk=resend_log_id)
    otp = OneTimeCode.objects.select_related("log").filter(log__message_id=log.metadata[RESEND_OF]).live(now).first()
    providers = (
        providers_after(otp.log.channel, otp.log.provider_used, tenant=otp.log.tenant_id) if otp and otp.log else []
    )
    if otp is None or not providers:
        mark_failed(log, EXPIRED_ERROR if otp is None else "no next provider")
        return MessageStatus.FAILED
    return send_resend(otp, log, providers, reason=str(log.metadata.get("resend_reason", "")))
