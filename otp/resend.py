"""Receipt-driven failover: one more send of a code, with a new code, through the next provider.

The first code is never kept, so the resend carries a fresh code whose HMAC joins the first on the
same OneTimeCode row: either verifies, once, against one attempt counter (otp.lifecycle.verify_code).
Two valid codes must not give a guesser better odds, so the claim halves the guesses left (rounded
down): with r wrong guesses left at one code a guesser's chance is r / 10^6; after the resend it is
at most 2 x floor(r / 2) / 10^6 (5 -> 4 in a million with the defaults). A code with fewer than 2
guesses left is not resent. Every resend is a paid send: an SMS resend counts against its source's
hourly budget (otp.limits.count_paid_send) and is not made when that budget is spent.

At most one resend per code: `resent_at` is claimed with one conditional UPDATE before anything is
sent, so a failure receipt and a receipt timeout racing each other send once. A worker that dies
between that claim and the provider call leaves the resend's log row `sending`: the recovery sweep
takes it over once its lease has run out, as it does a first send's (otp/recovery.py), and the row's
own claim keeps that to one send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet, Value
from django.views.decorators.debug import sensitive_variables

from messaging.conditions import through
from messaging.models import Channel, CommunicationLog, MessageStatus, ReceiptEvent
from messaging.providers.base import Provider
from messaging.receipt_timeout import without_receipt
from messaging.receipts.base import RESEND_BLAMES
from messaging.records import mark_failed
from messaging.service import UnifiedMessagingService
from messaging.tenancy.routing import chain_of
from otp.codes import generate_code, hash_code
from otp.delivery import render_message
from otp.lifecycle import resend_hash_id
from otp.limits import count_paid_send
from otp.models import OneTimeCode, is_owed_a_resend

NO_RECEIPT = "no receipt in time"
FAILURE_RECEIPT = "failure receipt"
# A failure receipt asks for its resend at once; the sweep asks again only after this long.
RECEIPT_RESEND_GRACE = timedelta(seconds=30)
# The metadata key of a resend's log row naming the first send's message_id.
RESEND_OF = "resend_of"


def providers_after(channel: str, provider: str, *, tenant: str = "") -> list[type[Provider]]:
    """The channel's chain (the tenant's own, if it set one) after `provider` (or all of it but
    `provider` if the chain no longer names it)."""
    chain = chain_of(tenant, Channel(channel))
    names = [cls.name for cls in chain]
    if provider in names:
        return chain[names.index(provider) + 1 :]
    return [cls for cls in chain if cls.name != provider]


def resend_through_next_provider(log_id: int, *, reason: str, now: datetime) -> str:
    """Send the code of the OTP first sent as log `log_id` once more, through the next provider.

    Returns what happened: the resend log's status, or why nothing was sent.
    """
    claimed = claim_resend(log_id, reason=reason, now=now)
    if isinstance(claimed, str):
        return claimed
    return send_resend(claimed.otp, claimed.log, claimed.providers, reason=reason)


@dataclass(frozen=True)
class ClaimedResend:
    otp: OneTimeCode
    log: CommunicationLog  # the resend's own log row, `sending` under this worker's claim
    providers: list[type[Provider]]


def claim_resend(log_id: int, *, reason: str, now: datetime) -> ClaimedResend | str:
    """Claim the one resend of the code first sent as log `log_id` and write its log row.

    Returns the claim, or why there is none. A worker that dies after this leaves the resend log
    `sending`; the recovery sweep takes it over once its lease has run out (otp/recovery.py).
    """
    otp = OneTimeCode.objects.select_related("log").filter(log_id=log_id).first()
    if otp is None or otp.log is None:
        return "not a one-time code"
    first = otp.log
    providers = providers_after(first.channel, first.provider_used, tenant=first.tenant_id)
    if not providers:
        return "no next provider"
    refused = _claim(otp, reason=reason, now=now)
    if refused:
        return refused
    log = CommunicationLog.objects.create(
        recipient=first.recipient,
        channel=first.channel,
        purpose=first.purpose,
        status=MessageStatus.SENDING,
        claimed_at=now,
        metadata={**first.metadata, RESEND_OF: str(first.message_id), "resend_reason": reason[:200]},
        tenant_id=first.tenant_id,
    )
    return ClaimedResend(otp=otp, log=log, providers=providers)


@sensitive_variables("code")
def send_resend(otp: OneTimeCode, log: CommunicationLog, providers: list[type[Provider]], *, reason: str) -> str:
    """Send a new code for `otp` through `providers` on the claimed resend `log`. Returns its status."""
    code = generate_code()
    OneTimeCode.objects.filter(pk=otp.pk).update(resend_code_hash=hash_code(code, otp_id=resend_hash_id(otp)))
    outcome = UnifiedMessagingService().deliver(
        log, render_message(otp, code), providers=providers, redact=[code], reason=f"resent: {reason}"
    )
    del code
    if outcome.retryable:
        mark_failed(log, f"resend failed: {outcome.error}")
        return MessageStatus.FAILED
    return outcome.status


def _claim(otp: OneTimeCode, *, reason: str, now: datetime) -> str:
    """Claim the code's one resend, halving its guesses left; or say why it may not be resent.

    The budget is counted first (a lost race wastes a slot, never pays unbudgeted); raises
    LimitsUnavailable when Redis is down, so the task is retried with nothing claimed.
    """
    most = settings.OTP_MAX_ATTEMPTS
    live = OneTimeCode.objects.filter(pk=otp.pk, attempts__lte=most - 2).owed_a_resend(now)
    if not live.exists():
        return "already resent, used, expired or out of guesses"
    if not count_paid_send(channel=otp.channel, tenant_id=otp.tenant_id):
        return "SMS budget spent"
    # attempts + ceil(left / 2): what is left is floor(left / 2) guesses, each checking two codes.
    halved = F("attempts") + (Value(most + 1) - F("attempts")) / 2
    claimed = live.update(resent_at=now, resend_reason=reason[:200], attempts=halved)
    return "" if claimed else "already resent, used, expired or out of guesses"


def logs_without_receipt(*, now: datetime) -> QuerySet[CommunicationLog]:
    """First sends of codes owed a resend, through providers that report delivery, with no receipt in time."""
    # No code outlives OTP_TTL_SECONDS, so older messages need not be looked at.
    waiting = without_receipt(now=now, look_back=timedelta(seconds=settings.OTP_TTL_SECONDS))
    if waiting is None:
        return CommunicationLog.objects.none()
    return CommunicationLog.objects.filter(waiting, _code_owed_a_resend(now))


def logs_failed_by_receipt(*, now: datetime) -> QuerySet[CommunicationLog]:
    """First sends of live codes that a failure receipt failed, still without their resend.

    The receipt asks for the resend at once, after its commit; this finds the ones whose request
    was lost (broker down, process gone between the commit and the publish), once the receipt is
    RECEIPT_RESEND_GRACE old. A provider that repeats the receipt only gets "duplicate".
    """
    return CommunicationLog.objects.filter(
        _code_owed_a_resend(now),
        receipts__changed_status=True,
        receipts__event__in=[ReceiptEvent.FAILED, ReceiptEvent.BOUNCED],
        receipts__blame__in=RESEND_BLAMES,
        receipts__received_at__lt=now - RECEIPT_RESEND_GRACE,
    ).distinct()


def _code_owed_a_resend(now: datetime) -> Q:
    """The log is the first send of a code that is live and has not been resent."""
    return through("one_time_code", is_owed_a_resend(now))


def resend_codes_without_receipt(*, now: datetime, enqueue: Callable[[int, str], None], limit: int = 500) -> int:
    """Ask for one resend of each code whose provider sent no receipt in time, or whose failure
    receipt's own request for it was lost. Returns how many."""
    owed = [(log_id, NO_RECEIPT) for log_id in logs_without_receipt(now=now).values_list("pk", flat=True)[:limit]]
    owed += [
        (log_id, FAILURE_RECEIPT) for log_id in logs_failed_by_receipt(now=now).values_list("pk", flat=True)[:limit]
    ]
    for log_id, reason in owed:
        enqueue(log_id, reason)
    return len(owed)
