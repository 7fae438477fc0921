"""What a worker does with one OneTimeCode: claim, generate, send, settle.

Two commits on the way to a sent code: the claim together with the new code's hash, then the
provider's attempt together with the log row's new state.

The plaintext code lives only in this module's local variables, between generate_code()
and the provider call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging import one_statement
from messaging.models import Channel, CommunicationLog, MessageStatus
from messaging.providers.base import EmailMessage, Message, SmsMessage
from messaging.service import UnifiedMessagingService, mark_failed
from otp.codes import generate_code, hash_code
from otp.models import OneTimeCode


@dataclass(frozen=True)
class DeliveryStep:
    """What the task should do next: nothing (done), or retry after `retry_in` seconds."""

    done: bool
    reason: str
    retry_in: float = 0.0


@sensitive_variables("code")
def deliver_one_time_code(otp_id: str, *, retries: int, lease_seconds: float) -> DeliveryStep:
    """Deliver the code for `otp_id` once, however often it is called.

    Returns a DeliveryStep; never raises for a provider failure.
    """
    otp = OneTimeCode.objects.select_related("log").filter(pk=otp_id).first()
    if otp is None or otp.log is None:
        return DeliveryStep(done=True, reason="no such code")
    log = otp.log
    now = timezone.now()
    code = generate_code()
    claimed, live = claim_and_store_hash(
        otp, log, hash_code(code, otp_id=str(otp.pk)), now=now, lease_seconds=lease_seconds
    )
    if not claimed:
        del code
        log.refresh_from_db()
        if log.status == MessageStatus.SENDING and log.claimed_at is not None:
            # Another worker holds it; look again once its lease has run out.
            remaining = (log.claimed_at + timedelta(seconds=lease_seconds) - now).total_seconds()
            return DeliveryStep(done=False, reason="claimed by another worker", retry_in=max(remaining, 1.0))
        return DeliveryStep(done=True, reason=f"already {log.status}")
    log.status, log.claimed_at = MessageStatus.SENDING, now
    if not live:
        del code
        mark_failed(log, "code replaced or expired before delivery")
        return DeliveryStep(done=True, reason="stale")

    outcome = UnifiedMessagingService().deliver(log, render_message(otp, code))
    del code
    if not outcome.retryable:
        return DeliveryStep(done=True, reason=outcome.status)
    return _retry_or_give_up(log, otp.expires_at, retries=retries, error=outcome.error, now=timezone.now())


def claim_and_store_hash(
    otp: OneTimeCode, log: CommunicationLog, code_hash: str, *, now: datetime, lease_seconds: float
) -> tuple[bool, bool]:
    """Claim the code's log row and store the new code's hash, in one statement (one commit).

    The row is claimed if it is queued, or sending under a lease older than `lease_seconds` (its
    worker died). The hash is stored only if the claim succeeded and the code is still live (not
    used, replaced or expired); otherwise the earlier hash stays. Returns (claimed, hash stored).
    """
    lease_start = now - timedelta(seconds=lease_seconds)
    if not one_statement.enabled():
        return _claim_and_store_hash_in_a_transaction(otp, log, code_hash, now=now, lease_start=lease_start)
    log_table, code_table = CommunicationLog._meta.db_table, OneTimeCode._meta.db_table
    sql = (
        f"WITH claimed AS (UPDATE {log_table} SET status = %s, claimed_at = %s"  # noqa: S608 (names from the models, values as parameters)
        " WHERE id = %s AND (status = %s OR (status = %s AND claimed_at < %s)) RETURNING id),"
        f" stored AS (UPDATE {code_table} SET code_hash = %s"
        " WHERE id = %s AND EXISTS (SELECT 1 FROM claimed)"
        " AND used_at IS NULL AND invalidated_at IS NULL AND expires_at > %s RETURNING id)"
        " SELECT (SELECT count(*) FROM claimed), (SELECT count(*) FROM stored)"
    )
    sending, queued = MessageStatus.SENDING.value, MessageStatus.QUEUED.value
    params: list[Any] = [sending, now, log.pk, queued, sending, lease_start, code_hash, otp.pk, now]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        claimed, stored = cursor.fetchone()
    return bool(claimed), bool(stored)


def _claim_and_store_hash_in_a_transaction(
    otp: OneTimeCode, log: CommunicationLog, code_hash: str, *, now: datetime, lease_start: datetime
) -> tuple[bool, bool]:
    """Any database (`make run` on SQLite): the same two UPDATEs in one transaction."""
    with transaction.atomic():
        claimed = (
            CommunicationLog.objects.filter(pk=log.pk)
            .filter(Q(status=MessageStatus.QUEUED) | Q(status=MessageStatus.SENDING, claimed_at__lt=lease_start))
            .update(status=MessageStatus.SENDING, claimed_at=now)
        )
        stored = claimed and (
            OneTimeCode.objects.filter(
                pk=otp.pk, used_at__isnull=True, invalidated_at__isnull=True, expires_at__gt=now
            ).update(code_hash=code_hash)
        )
    return bool(claimed), bool(stored)


def _retry_or_give_up(
    log: CommunicationLog, expires_at: datetime, *, retries: int, error: str, now: datetime
) -> DeliveryStep:
    delay = backoff_delay(retries)
    if retries >= settings.OTP_DELIVERY_MAX_RETRIES or now + timedelta(seconds=delay) >= expires_at:
        mark_failed(log, f"every provider failed: {error}")
        return DeliveryStep(done=True, reason="failed")
    # Back in the queue, so whichever worker runs the retry can claim it. For a queued row,
    # claimed_at is when its delivery is next due: the recovery sweep leaves it alone until then.
    due = now + timedelta(seconds=delay)
    CommunicationLog.objects.filter(pk=log.pk).update(status=MessageStatus.QUEUED, claimed_at=due, error_message=error)
    return DeliveryStep(done=False, reason="every provider failed", retry_in=delay)


def backoff_delay(retries: int) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random."""
    step = min(settings.OTP_RETRY_BACKOFF_MAX, settings.OTP_RETRY_BACKOFF_BASE * 2**retries)
    return step / 2 + random.uniform(0, step / 2)


@sensitive_variables("code", "body", "text", "html")
def render_message(otp: OneTimeCode, code: str) -> Message:
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    service = settings.OTP_SERVICE_NAME
    tags = {"purpose": otp.purpose, "tenant": otp.tenant_id}
    if otp.channel == Channel.SMS:
        body = f"{code} is your {service} code. It expires in {minutes} minutes. Never share it."
        return SmsMessage(to=otp.recipient, body=body, tags=tags)
    text = (
        f"Your {service} code is {code}\n\nIt expires in {minutes} minutes. "
        "If you did not ask for it, you can ignore this email."
    )
    html = (
        f'<p>Your {service} code is</p><p style="font-size:24px;letter-spacing:4px"><strong>{code}</strong></p>'
        f"<p>It expires in {minutes} minutes. If you did not ask for it, you can ignore this email.</p>"
    )
    return EmailMessage(
        to=otp.recipient,
        subject=f"Your {service} code",
        text=text,
        html=html,
        from_email=settings.OTP_FROM_EMAIL,
        from_name=settings.OTP_FROM_NAME,
        tags=tags,
    )
