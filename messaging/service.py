"""UnifiedMessagingService: one way to send email and SMS, and the failover loop behind it.

The loop is the one place that logs, times, records and guards provider calls: providers
only send or raise ProviderError.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.utils import timezone

from messaging import budgets, generation_cache
from messaging.breaker import breaker_for
from messaging.models import AttemptOutcome, Channel, CommunicationLog, MessageStatus
from messaging.providers.base import Attachment, EmailMessage, Message, Provider, ProviderError, SmsMessage
from messaging.records import mark_failed, new_attempt, record_attempt, record_sent
from messaging.refusals import outcome_of, retry_delay, worth_waiting_for
from messaging.segments import billable_units
from messaging.tenancy.routing import Route, routes
from otpsite.redaction import redact_secrets


@dataclass(frozen=True)
class DeliveryOutcome:
    """How one walk of the chain ended.

    retryable is true when no provider took the message and none blamed the recipient:
    the same message may succeed later.
    """

    success: bool
    status: str
    provider: str = ""
    cost: Decimal | None = None
    error: str = ""
    retryable: bool = False
    # Set when a provider asked to be tried again later (greylisting): seconds to wait before the retry.
    retry_in: float | None = None


@dataclass(frozen=True)
class _Failure:
    outcome: str
    error: str
    error_code: str = ""
    retry_in: float | None = None


class UnifiedMessagingService:
    """Send a message through its channel's provider chain, recording every decision."""

    def send_email(
        self,
        to: str,
        subject: str,
        html: str,
        text: str,
        metadata: Mapping[str, Any] | None = None,
        *,
        cc: Iterable[str] = (),
        bcc: Iterable[str] = (),
        reply_to: Iterable[str] = (),
        attachments: Iterable[Attachment] = (),
        tags: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        message = EmailMessage(
            to=to,
            subject=subject,
            text=text,
            html=html,
            from_email=settings.OTP_FROM_EMAIL,
            from_name=settings.OTP_FROM_NAME,
            cc=tuple(cc),
            bcc=tuple(bcc),
            reply_to=tuple(reply_to),
            attachments=tuple(attachments),
            tags=dict(tags or {}),
        )
        return self._send_now(Channel.EMAIL, to, message, metadata)

    def send_sms(
        self, to: str, message: str, metadata: Mapping[str, Any] | None = None, *, tags: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        return self._send_now(Channel.SMS, to, SmsMessage(to=to, body=message, tags=dict(tags or {})), metadata)

    def _send_now(
        self, channel: Channel, to: str, message: Message, metadata: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Write the log row before the send, walk the chain once, and settle the row."""
        meta = dict(metadata or {})
        log = CommunicationLog.objects.create(
            recipient=to,
            channel=channel,
            purpose=str(meta.get("purpose", "")),
            status=MessageStatus.SENDING,
            claimed_at=timezone.now(),
            metadata=meta,
            tenant_id=str(meta.get("tenant_id", ""))[:64],
        )
        outcome = self.deliver(log, message)
        if outcome.retryable:
            mark_failed(log, outcome.error)
            outcome = DeliveryOutcome(success=False, status=MessageStatus.FAILED, error=outcome.error)
        return {
            "success": outcome.success,
            "message_id": str(log.message_id),
            "status": outcome.status,
            "provider": outcome.provider,
            "cost": outcome.cost,
        }

    def deliver(
        self,
        log: CommunicationLog,
        message: Message,
        *,
        providers: Sequence[type[Provider]] | None = None,
        redact: Sequence[str] = (),
        reason: str = "",
        wait_until: datetime | None = None,
    ) -> DeliveryOutcome:
        """Walk the chain (or `providers`, e.g. the rest of it for a resend) for a claimed log row.

        Returns the outcome. On success the row is `sent`; on a recipient fault it is
        `failed`; when every provider failed or was skipped the row is left to the caller
        (outcome.retryable), which retries later or gives up. A provider that asks to be tried
        again later (greylisting) stops the walk with outcome.retry_in set if that retry would
        still come before `wait_until` (when the message stops being useful); otherwise, or with no
        `wait_until`, the walk goes on to the next provider. Each string in `redact` (a one-time
        code in the message) is hidden in a provider's error text before it is recorded anywhere;
        `reason` (why this walk was made, e.g. a resend) is written with each attempt.
        """
        with generation_cache.pinned():  # the tenant's token read once for the walk
            return self._deliver(log, message, providers, redact, reason, wait_until)

    def _deliver(
        self,
        log: CommunicationLog,
        message: Message,
        providers: Sequence[type[Provider]] | None,
        redact: Sequence[str],
        reason: str,
        wait_until: datetime | None,
    ) -> DeliveryOutcome:
        errors: list[str] = []
        # Its tenant's chain and credentials (messaging.tenancy); the tenant's budget reserves each
        # call's price and may stop the walk (messaging/budgets.py).
        chain = routes(log, providers)
        # The first of the message's own chain, for the failover metric (a resend's is looked up).
        first_of_chain = (chain[0].name if chain else "") if providers is None else None
        walk = budgets.Walk(log, chain)
        for route in walk:
            started = time.monotonic()
            try:
                provider_message_id, price = self._call(route, message, redact, walk)
            except _AttemptFailed as failed:
                walk.release()
                failure = failed.failure
                record_attempt(log, new_attempt(
                    log, route.name, failure.outcome, started,
                    error=failure.error, error_code=failure.error_code, reason=reason,
                ))  # fmt: skip
                if failure.outcome == AttemptOutcome.RECIPIENT_FAULT:
                    mark_failed(log, f"{route.name}: {failure.error}")
                    return DeliveryOutcome(success=False, status=MessageStatus.FAILED, error=failure.error)
                if failure.outcome == AttemptOutcome.SKIPPED_BUDGET and walk.over_budget(failure.error):
                    break
                errors.append(f"{route.name}: {failure.error}")
                if worth_waiting_for(failure.retry_in, wait_until):
                    return DeliveryOutcome(
                        success=False, status=log.status, error=errors[-1], retryable=True, retry_in=failure.retry_in
                    )
                continue
            record_sent(log, route.name, started, provider_message_id=provider_message_id, cost=price, reason=reason,
                        quota_tenant=route.quota_tenant, first_of_chain=first_of_chain)  # fmt: skip
            return DeliveryOutcome(success=True, status=MessageStatus.SENT, provider=route.name, cost=price)
        if walk.refused:  # the budget refused it: final, never retried, nobody's fault but the cap
            mark_failed(log, walk.refused)
            return DeliveryOutcome(success=False, status=MessageStatus.FAILED, error=walk.refused)
        return DeliveryOutcome(
            success=False, status=log.status, error="; ".join(errors) or "no provider in the chain", retryable=True
        )

    def _call(self, route: Route, message: Message, redact: Sequence[str], walk: budgets.Walk) -> tuple[str, Decimal]:
        """Guard and make one provider call. Returns (provider message id, cost); raises _AttemptFailed.
        Its price is first reserved under the tenant's budget (`walk`; released by the caller on a raise)."""
        provider = route.provider()
        if not provider.configured():
            raise _AttemptFailed(_Failure(AttemptOutcome.SKIPPED_NOT_CONFIGURED, "not configured"))
        now = timezone.now()
        if route.quota_spent(now=now):
            raise _AttemptFailed(_Failure(AttemptOutcome.SKIPPED_QUOTA, "daily or monthly quota spent"))
        price = route.price_next(now=now) * billable_units(message)
        try:
            walk.reserve(price)
        except budgets.OverBudget as err:
            raise _AttemptFailed(_Failure(AttemptOutcome.SKIPPED_BUDGET, str(err))) from err
        breaker = breaker_for(route.breaker_name)
        permit = breaker.acquire()
        if permit is None:
            raise _AttemptFailed(_Failure(AttemptOutcome.SKIPPED_BREAKER_OPEN, "circuit breaker open"))
        redact = [*redact, *route.secrets()]  # a tenant's own keys never reach an attempt's error text
        try:
            result = provider.send(message)
        except ProviderError as err:
            # A provider may quote the message back in its refusal ("content rejected: ... 482913").
            text, outcome = redact_secrets(str(err), redact), outcome_of(err)
            if outcome == AttemptOutcome.PROVIDER_FAULT:
                breaker.record_failure(permit, text)
            else:
                # The recipient's problem, or nobody's (try again later): it says nothing about the provider.
                breaker.release(permit)
            retry_in = retry_delay(err) if outcome == AttemptOutcome.RETRY_LATER else None
            raise _AttemptFailed(_Failure(outcome, text, err.error_code, retry_in)) from err
        except Exception as err:
            # An SDK bug or an unexpected answer is the provider's fault, never the caller's.
            breaker.record_failure(permit, f"{type(err).__name__}")
            text = redact_secrets(f"unexpected {type(err).__name__}: {err}", redact)
            raise _AttemptFailed(_Failure(AttemptOutcome.PROVIDER_FAULT, text)) from err
        breaker.record_success(permit)
        return result.provider_message_id, price


class _AttemptFailed(Exception):
    def __init__(self, failure: _Failure) -> None:
        super().__init__(failure.error)
        self.failure = failure
