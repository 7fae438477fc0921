"""Issuing and verifying codes in the database: one transaction each, verification under a row lock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.views.decorators.debug import sensitive_variables

from messaging.models import CommunicationLog, MessageStatus
from messaging.service import mark_failed
from otp.codes import code_matches
from otp.models import OneTimeCode


class DeliveryNotQueued(Exception):
    """The rows were committed but the broker refused the task; the log is marked failed."""


@dataclass(frozen=True)
class CodeRequest:
    tenant_id: str
    recipient: str
    channel: str
    purpose: str


def issue_code(request: CodeRequest, *, now: datetime, enqueue: Callable[[str], None]) -> OneTimeCode:
    """Replace any live code for the same (tenant, recipient, purpose) with a new queued one.

    `enqueue(otp_id)` runs only after the transaction commits, so a rolled-back request
    enqueues nothing. Raises DeliveryNotQueued if enqueue fails; the log then says so.
    """
    with transaction.atomic():
        live_codes(request).update(invalidated_at=now)
        log = CommunicationLog.objects.create(
            recipient=request.recipient,
            channel=request.channel,
            purpose=request.purpose,
            status=MessageStatus.QUEUED,
            metadata={"tenant_id": request.tenant_id, "kind": "otp"},
        )
        otp = OneTimeCode.objects.create(
            tenant_id=request.tenant_id,
            recipient=request.recipient,
            channel=request.channel,
            purpose=request.purpose,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS),
            log=log,
        )
        transaction.on_commit(lambda: _enqueue_or_fail(otp, log, enqueue))
    return otp


def _enqueue_or_fail(otp: OneTimeCode, log: CommunicationLog, enqueue: Callable[[str], None]) -> None:
    try:
        enqueue(str(otp.pk))
    except Exception as err:
        mark_failed(log, f"could not enqueue delivery: {type(err).__name__}")
        raise DeliveryNotQueued(str(type(err).__name__)) from err


@sensitive_variables("code")
def verify_code(request: CodeRequest, code: str, *, now: datetime) -> bool:
    """True exactly once for the latest live code of (tenant, recipient, purpose) if `code` matches.

    A wrong guess counts against the code; at OTP_MAX_ATTEMPTS it can no longer verify.
    """
    with transaction.atomic():
        otp = live_codes(request).select_for_update().order_by("-created_at").first()
        if otp is None or otp.expires_at <= now or otp.attempts >= settings.OTP_MAX_ATTEMPTS:
            return False
        # Either the first code or the one a receipt-driven resend carried; one shared counter.
        first = code_matches(code, otp_id=str(otp.pk), code_hash=otp.code_hash)
        resent = code_matches(code, otp_id=resend_hash_id(otp), code_hash=otp.resend_code_hash)
        if first or resent:
            OneTimeCode.objects.filter(pk=otp.pk).update(used_at=now)
            return True
        OneTimeCode.objects.filter(pk=otp.pk).update(attempts=F("attempts") + 1)
        return False


def resend_hash_id(otp: OneTimeCode) -> str:
    """What the resent code's HMAC is bound to, so it never shares a hash with the first code."""
    return f"{otp.pk}:resend"


def has_live_code(request: CodeRequest, *, now: datetime) -> bool:
    """Whether a code that could still verify exists: only guesses at one count towards a lockout."""
    latest = live_codes(request).order_by("-created_at").first()
    return latest is not None and latest.expires_at > now and latest.attempts < settings.OTP_MAX_ATTEMPTS


def live_codes(request: CodeRequest):  # type: ignore[no-untyped-def]
    return OneTimeCode.objects.filter(
        tenant_id=request.tenant_id,
        recipient=request.recipient,
        purpose=request.purpose,
        used_at__isnull=True,
        invalidated_at__isnull=True,
    )
