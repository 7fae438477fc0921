"""Applying one receipt to its log row: idempotent, safe out of order, matched by provider message id."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from messaging import events, metrics, resend_handlers
from messaging.breaker import Permit, breaker_for
from messaging.models import Blame, CommunicationLog, DeliveryReceipt, MessageStatus, ReceiptEvent
from messaging.receipts.breaker_share import receipt_may_count_against_breaker
from messaging.tenancy.routing import breaker_name_for
from otpsite.logs import log_event

logger = logging.getLogger("messaging.receipts")

# Receipt event -> (the log status it moves to, the statuses it may move from). A delivered log
# never moves again, so a late `deferred` or a duplicate `failed` cannot undo it.
TRANSITIONS: dict[str, tuple[str, frozenset[str]]] = {
    ReceiptEvent.DELIVERED: (
        MessageStatus.DELIVERED,
        frozenset({MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.BOUNCED}),
    ),
    ReceiptEvent.BOUNCED: (MessageStatus.BOUNCED, frozenset({MessageStatus.SENT})),
    ReceiptEvent.FAILED: (MessageStatus.FAILED, frozenset({MessageStatus.SENT})),
}
# Failure blames that send the code once more through the next provider.
RESEND_BLAMES = frozenset({Blame.PROVIDER, Blame.UNKNOWN})


class ReceiptRefused(Exception):
    """The callback is not provably from the provider (signature, certificate, replay): answer 403."""


class ReceiptUnavailable(Exception):
    """The callback cannot be checked right now (its certificate fetch failed, or too many run): 503."""


class MalformedReceipt(Exception):
    """The callback is signed but its content cannot be read: answer 400."""


@dataclass(frozen=True)
class Receipt:
    provider: str
    provider_message_id: str
    # Unique per provider event, so a redelivered callback is recognised.
    event_key: str
    event: str
    blame: str = Blame.NONE
    reason: str = ""
    code: str = ""
    occurred_at: datetime | None = None

    @property
    def is_failure(self) -> bool:
        return self.event in (ReceiptEvent.FAILED, ReceiptEvent.BOUNCED)


def refuse_if_stale(sent_at: datetime, *, now: datetime) -> None:
    """Raise ReceiptRefused when a signed timestamp is further than the allowed age from now."""
    if abs((now - sent_at).total_seconds()) > settings.MESSAGING_WEBHOOK_MAX_AGE_SECONDS:
        raise ReceiptRefused("timestamp outside the allowed window (replay?)")


def apply_receipt(receipt: Receipt, *, now: datetime | None = None) -> str:
    """Record `receipt` and move its log forward: "unknown", "implausible", "duplicate" or "recorded".

    A failure receipt that fails the message and blames the provider counts against its breaker
    (within breaker_share's allowance); one that blames the provider or nobody known asks the
    resend handler of the message's kind (messaging.resend_handlers) for one resend through the next
    provider (for a code, otp.resend's sweep asks again if that request is lost). A receipt dated
    outside its message's life is refused: "implausible", nothing stored.
    """
    now = now or timezone.now()
    with transaction.atomic():
        log = (
            CommunicationLog.objects.select_for_update()
            .filter(provider_used=receipt.provider, provider_message_id=receipt.provider_message_id)
            .first()
            if receipt.provider_message_id
            else None
        )
        if log is None:
            return "unknown"
        if not plausible_time(log, receipt, now=now):
            log_event(logger, "receipt.implausible_time", level=logging.WARNING, provider=receipt.provider,
                      message_id=str(log.message_id), receipt=receipt.event)  # fmt: skip
            return "implausible"
        # The row lock holds the status still, so whether this receipt moves it is known up front.
        changed = _moves_status(log, receipt)
        try:
            with transaction.atomic():
                DeliveryReceipt.objects.create(
                    log=log,
                    provider=receipt.provider,
                    event_key=receipt.event_key[:255],
                    event=receipt.event,
                    blame=receipt.blame,
                    reason=receipt.reason[:500],
                    code=receipt.code[:64],
                    occurred_at=receipt.occurred_at,
                    changed_status=changed,
                )
        except IntegrityError:
            return "duplicate"
        transaction.on_commit(lambda: metrics.receipt_recorded(receipt.provider, receipt.event))
        if changed:
            _move_status(log, receipt, now=now)
        # Only the receipt that fails the message: a repeat (Twilio's "undelivered" then "failed"), or a
        # failure after "delivered", neither counts twice against the breaker nor resends.
        if changed and receipt.is_failure and receipt.blame in RESEND_BLAMES:
            # Provider, event and code only: the provider's free text may name the recipient.
            reason = f"{receipt.provider} reported {receipt.event} {receipt.code}".strip()
            transaction.on_commit(lambda: _after_provider_failure(log, receipt, reason))
    log_event(logger, "receipt.recorded", provider=receipt.provider, message_id=str(log.message_id),
              receipt=receipt.event, blame=receipt.blame or "-", error_code=receipt.code, changed=changed)  # fmt: skip
    return "recorded"


def plausible_time(log: CommunicationLog, receipt: Receipt, *, now: datetime) -> bool:
    """Whether the receipt's own date falls within its message's life: not before the message was
    created, not after now (each give or take MESSAGING_RECEIPT_CLOCK_SKEW_SECONDS). Undated: yes."""
    if receipt.occurred_at is None:
        return True
    skew = timedelta(seconds=settings.MESSAGING_RECEIPT_CLOCK_SKEW_SECONDS)
    return log.created_at - skew <= receipt.occurred_at <= now + skew


def _moves_status(log: CommunicationLog, receipt: Receipt) -> bool:
    transition = TRANSITIONS.get(receipt.event)
    return transition is not None and log.status in transition[1]


def _move_status(log: CommunicationLog, receipt: Receipt, *, now: datetime) -> None:
    to_status = TRANSITIONS[receipt.event][0]
    fields: dict[str, object] = {"status": to_status}
    if to_status == MessageStatus.DELIVERED:
        fields["delivered_at"] = receipt.occurred_at or now
    else:
        fields["error_message"] = f"{receipt.provider} receipt: {receipt.code} {receipt.reason}".strip()[:4000]
    CommunicationLog.objects.filter(pk=log.pk).update(**fields)
    transaction.on_commit(lambda: events.status_changed.send(sender=Receipt, log_id=log.pk, status=to_status))


def _after_provider_failure(log: CommunicationLog, receipt: Receipt, reason: str) -> None:
    if receipt.blame == Blame.PROVIDER and receipt_may_count_against_breaker(receipt.provider, now=timezone.now()):
        # A provider that accepts messages and then drops them is as broken as one that refuses them.
        # A tenant's own account has its own breaker (messaging.tenancy.routing).
        breaker = breaker_name_for(log, receipt.provider)
        breaker_for(breaker).record_failure(Permit(provider=breaker, store=""), reason)
    if "resend_of" not in log.metadata:
        # The layer that sent this kind of message decides whether and how to send it again.
        resend_handlers.request_resend(str(log.metadata.get("kind", "")), log.pk, reason)
