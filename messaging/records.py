"""A delivery's records: its attempts, its log row's sent or failed state, their metrics and log lines.

The failover loop (messaging/service.py) writes through these, and so do the resends and the
recovery paths that settle a message without a provider call.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal

from django.utils import timezone

from messaging import metrics, one_statement, pricing
from messaging.models import AttemptOutcome, Channel, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.tenancy.routing import chain_names_of
from otpsite.logs import log_event

# The delivery's own logger name, as before these moved out of messaging/service.py.
logger = logging.getLogger("messaging.service")


def record_sent(
    log: CommunicationLog,
    provider: str,
    started: float,
    *,
    provider_message_id: str,
    cost: Decimal,
    reason: str = "",
    quota_tenant: str = "",
    first_of_chain: str | None = None,
) -> None:
    """The provider took it: write its attempt and the log's `sent` state in one commit (one statement).

    quota_tenant: the tenant whose own credential sent it (its free tier and quotas count it too).
    A failover is a send by any provider but the first of the message's tenant's chain (or the
    platform's): `first_of_chain` when the caller walked it, else looked up.
    """
    attempt = new_attempt(log, provider, AttemptOutcome.SENT, started, reason=reason)
    set_sent(log, provider=provider, provider_message_id=provider_message_id, cost=cost)
    one_statement.insert_and_update(attempt, log, SENT_FIELDS)
    pricing.count_use(provider, at=log.sent_at or timezone.now(), tenant=quota_tenant)
    attempt_recorded(log, attempt)
    if first_of_chain is None:
        first_of_chain = next(iter(chain_names_of(log.tenant_id, Channel(log.channel))), "")
    metrics.message_sent(log, failover=provider != first_of_chain)


def record_attempt(log: CommunicationLog, attempt: DeliveryAttempt) -> DeliveryAttempt:
    """Write an attempt that did not send (the sent one goes with the log's state, record_sent)."""
    attempt.save(force_insert=True)
    attempt_recorded(log, attempt)
    return attempt


def new_attempt(
    log: CommunicationLog,
    provider: str,
    outcome: str,
    started: float,
    *,
    error: str = "",
    error_code: str = "",
    reason: str = "",
) -> DeliveryAttempt:
    """The attempt's row, not yet written; `reason` says why it was made (a resend), written with it."""
    duration_ms = int((time.monotonic() - started) * 1000)
    return DeliveryAttempt(
        log=log,
        provider=provider,
        outcome=outcome,
        error=error[:2000],
        error_code=error_code[:64],
        duration_ms=duration_ms,
        reason=reason[:200],
    )


def attempt_recorded(log: CommunicationLog, attempt: DeliveryAttempt) -> None:
    """Count and log a written attempt."""
    provider, outcome, duration_ms = attempt.provider, attempt.outcome, attempt.duration_ms
    metrics.attempt_recorded(channel=log.channel, provider=provider, outcome=outcome, seconds=duration_ms / 1000)
    log_event(
        logger,
        "messaging.attempt",
        message_id=str(log.message_id),
        channel=log.channel,
        provider=provider,
        outcome=outcome,
        recipient=log.recipient,
        duration_ms=duration_ms,
        error_code=attempt.error_code,
    )


SENT_FIELDS = ["status", "provider_used", "provider_message_id", "cost", "sent_at", "error_message"]


def set_sent(log: CommunicationLog, *, provider: str, provider_message_id: str, cost: Decimal) -> None:
    log.status = MessageStatus.SENT
    log.provider_used = provider
    log.provider_message_id = provider_message_id[:255]
    log.cost = cost
    log.sent_at = timezone.now()
    log.error_message = ""


def mark_failed(log: CommunicationLog, error: str) -> None:
    log.status = MessageStatus.FAILED
    log.error_message = error[:4000]
    log.save(update_fields=["status", "error_message"])
    metrics.message_failed(log)
    log_event(
        logger,
        "messaging.failed",
        message_id=str(log.message_id),
        channel=log.channel,
        recipient=log.recipient,
    )
