"""A failure receipt blamed the provider: the same content once more, through the next provider.

At most once per message: `resent_at` is claimed with one conditional UPDATE before anything is sent.
"""

from __future__ import annotations

from datetime import datetime

from messaging.models import CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.records import mark_failed
from messaging.service import DeliveryOutcome, UnifiedMessagingService
from notifications import hooks
from notifications.delivery import chain_for
from notifications.models import Message
from notifications.rendering import render_for_delivery
from otp.resend import providers_after


def resend_through_next_provider(log_id: int, *, reason: str, now: datetime) -> str:
    """Send message `log_id`'s content once more through the provider after the one that failed it."""
    message = Message.objects.select_related("log", "tenant").filter(log_id=log_id).first()
    if message is None:
        return "not a tenant message"
    first = message.log
    providers = chain_for(message) or providers_after(first.channel, first.provider_used, tenant=first.tenant_id)
    if not providers:
        hooks.announce(message, MessageStatus.FAILED)
        return "no next provider"
    if not Message.objects.filter(pk=message.pk, resent_at__isnull=True).update(resent_at=now):
        return "already resent"
    log = CommunicationLog.objects.create(
        recipient=first.recipient,
        channel=first.channel,
        purpose=first.purpose,
        status=MessageStatus.SENDING,
        claimed_at=now,
        metadata={**first.metadata, "resend_of": str(first.message_id), "resend_reason": reason[:200]},
        tenant_id=first.tenant_id,
    )
    Message.objects.filter(pk=message.pk).update(resend_log=log)
    message.resend_log = log
    outcome = UnifiedMessagingService().deliver(log, render_for_delivery(message), providers=providers)
    DeliveryAttempt.objects.filter(log=log).update(reason=f"resent: {reason}"[:200])
    if outcome.retryable:
        mark_failed(log, f"resend failed: {outcome.error}")
        outcome = DeliveryOutcome(success=False, status=MessageStatus.FAILED)
    hooks.delivery_finished(message, outcome)
    return outcome.status
