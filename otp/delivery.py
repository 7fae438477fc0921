"""What a worker does with one OneTimeCode: claim, generate, send, settle.

Two commits on the way to a sent code: the claim together with the new code's hash, then the
provider's attempt together with the log row's new state.

The plaintext code lives only in this module's local variables, between generate_code()
and the provider call.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from messaging import generation_cache
from messaging.models import Channel, CommunicationLog, MessageStatus, lease_start
from messaging.providers.base import EmailMessage, Message, SmsMessage, message_from_parts
from messaging.providers.sink.sender import sink_chain
from messaging.records import mark_failed
from messaging.service import UnifiedMessagingService
from otp.claim import claim
from otp.codes import generate_code, hash_code
from otp.models import OneTimeCode
from otp.texts import rendered_texts
from otpsite import liveness


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
    try:
        otp_id = str(uuid.UUID(otp_id))  # the form its hash is bound to
    except ValueError:
        return DeliveryStep(done=True, reason="no such code")
    now = timezone.now()
    code = generate_code()
    taken = claim(otp_id, hash_code(code, otp_id=otp_id), now=now, lease_seconds=lease_seconds)
    if taken is None:
        del code
        return DeliveryStep(done=True, reason="no such code")
    otp, log = taken.otp, taken.log
    if not taken.claimed:
        del code
        log.refresh_from_db()
        if log.status == MessageStatus.SENDING and log.claimed_at is not None:
            return DeliveryStep(
                done=False,
                reason="claimed by another worker",
                retry_in=look_again_in(log, now=now, lease_seconds=lease_seconds),
            )
        return DeliveryStep(done=True, reason=f"already {log.status}")
    log.status, log.claimed_at = MessageStatus.SENDING, now
    if not taken.live:
        del code
        mark_failed(log, "code replaced or expired before delivery")
        return DeliveryStep(done=True, reason="stale")

    # A provider's "try again later" is waited for while a retry is left; on the last try the next provider takes it.
    wait_until = otp.expires_at if retries < settings.OTP_DELIVERY_MAX_RETRIES else None
    with generation_cache.pinned():  # the template's and the tenant's tokens read once (one GET each)
        outcome = UnifiedMessagingService().deliver(
            log, render_message(otp, code), providers=sink_chain(log), redact=[code], wait_until=wait_until
        )
    del code
    if not outcome.retryable:
        return DeliveryStep(done=True, reason=outcome.status)
    return _retry_or_give_up(
        log, otp.expires_at, retries=retries, error=outcome.error, now=timezone.now(), delay=outcome.retry_in
    )


def look_again_in(log: CommunicationLog, *, now: datetime, lease_seconds: float) -> float:
    """When another worker's claim on `log` may be taken: once its lease runs out, or sooner once its
    owner's liveness key would expire (otpsite/liveness.py) if the owner is dead."""
    assert log.claimed_at is not None
    remaining = (log.claimed_at - lease_start(now, lease_seconds)).total_seconds()
    alive_for = liveness.recheck_in(log.claimed_by)
    if alive_for is not None:
        # Whole seconds, rounded up: a broker that counts whole seconds must not bring it back early.
        remaining = min(remaining, math.ceil(alive_for + 0.1))
    return max(remaining, 1.0)


def _retry_or_give_up(
    log: CommunicationLog, expires_at: datetime, *, retries: int, error: str, now: datetime, delay: float | None
) -> DeliveryStep:
    """Queue the next try after `delay` (a provider's "try again later") or the backoff, or give up."""
    asked = delay is not None
    delay = backoff_delay(retries) if delay is None else delay
    if retries >= settings.OTP_DELIVERY_MAX_RETRIES or now + timedelta(seconds=delay) >= expires_at:
        mark_failed(log, f"every provider failed: {error}")
        return DeliveryStep(done=True, reason="failed")
    # Back in the queue, so whichever worker runs the retry can claim it. For a queued row,
    # claimed_at is when its delivery is next due: the recovery sweep leaves it alone until then.
    due = now + timedelta(seconds=delay)
    CommunicationLog.objects.filter(pk=log.pk).update(status=MessageStatus.QUEUED, claimed_at=due, error_message=error)
    return DeliveryStep(
        done=False, reason="asked to try again later" if asked else "every provider failed", retry_in=delay
    )


def backoff_delay(retries: int) -> float:
    """Exponential backoff with equal jitter: half the step fixed, half random."""
    step = min(settings.OTP_RETRY_BACKOFF_MAX, settings.OTP_RETRY_BACKOFF_BASE * 2**retries)
    return step / 2 + random.uniform(0, step / 2)


@sensitive_variables("code", "body", "text", "html")
def render_message(otp: OneTimeCode, code: str) -> Message:
    tags = {"purpose": otp.purpose, "tenant": otp.tenant_id}
    parts = rendered_texts(otp, code)
    if parts is not None:
        return message_from_parts(channel=otp.channel, to=otp.recipient, parts=parts, tags=tags)
    minutes = max(1, settings.OTP_TTL_SECONDS // 60)
    service = settings.OTP_SERVICE_NAME
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
