"""What a worker does with one tenant message: claim its log row, render it, walk the chain, settle."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from messaging.providers.base import Provider
from messaging.providers.sink.sender import TestSink
from messaging.records import mark_failed
from messaging.service import DeliveryOutcome, UnifiedMessagingService
from notifications import hooks
from notifications.models import Message
from notifications.rendering import render_for_delivery
from otp.delivery import DeliveryStep, backoff_delay, look_again_in
from otpsite import liveness


def claim(log: CommunicationLog, *, lease_seconds: float) -> bool:
    """Take the log row for this worker if it is claimable (queued, or its lease ran out), or if its
    claim's owner is dead (otpsite/liveness.py; `log` as read before). One UPDATE, two on a takeover."""
    now, me = timezone.now(), liveness.owner()
    row = CommunicationLog.objects.filter(pk=log.pk)
    claimed = dict(status=MessageStatus.SENDING, claimed_at=now, claimed_by=me)
    taken = row.claimable(now=now, lease_seconds=lease_seconds).update(**claimed)
    held_since = log.claimed_at if log.status == MessageStatus.SENDING else None
    if not taken and held_since is not None and liveness.recheck_in(log.claimed_by) == 0.0:
        taken = row.taken_over(owner=log.claimed_by, claimed_at=held_since).update(**claimed)
    if taken:
        log.status, log.claimed_at, log.claimed_by = MessageStatus.SENDING, now, me
    return bool(taken)


def chain_for(message: Message) -> list[type[Provider]] | None:
    """A test key's messages go to the sink, never to a provider; others walk the channel's chain."""
    return [TestSink] if message.test else None


def deliver_tenant_message(message_pk: int, *, retries: int, lease_seconds: float) -> DeliveryStep:
    """Deliver message `message_pk` once, however often it is called. Never raises for a provider failure."""
    message = Message.objects.select_related("log", "tenant").filter(pk=message_pk).first()
    if message is None:
        return DeliveryStep(done=True, reason="no such message")
    log = message.log
    if not claim(log, lease_seconds=lease_seconds):
        log.refresh_from_db()
        if log.status == MessageStatus.SENDING and log.claimed_at is not None:
            wait = look_again_in(log, now=timezone.now(), lease_seconds=lease_seconds)
            return DeliveryStep(done=False, reason="claimed by another worker", retry_in=wait)
        return DeliveryStep(done=True, reason=f"already {log.status}")
    outgoing = render_for_delivery(message)
    outcome = UnifiedMessagingService().deliver(log, outgoing, providers=chain_for(message))
    if not outcome.retryable:
        hooks.delivery_finished(message, outcome)
        return DeliveryStep(done=True, reason=outcome.status)
    return _retry_or_give_up(message, retries=retries, outcome=outcome)


def _retry_or_give_up(message: Message, *, retries: int, outcome: DeliveryOutcome) -> DeliveryStep:
    log = message.log
    if retries >= settings.OTP_DELIVERY_MAX_RETRIES:
        mark_failed(log, f"every provider failed: {outcome.error}")
        hooks.delivery_finished(message, DeliveryOutcome(success=False, status=MessageStatus.FAILED))
        return DeliveryStep(done=True, reason="failed")
    delay = backoff_delay(retries)
    due = timezone.now() + timedelta(seconds=delay)
    CommunicationLog.objects.filter(pk=log.pk).update(
        status=MessageStatus.QUEUED, claimed_at=due, error_message=outcome.error[:4000]
    )
    return DeliveryStep(done=False, reason="every provider failed", retry_in=delay)
