"""Whose fault a provider's refusal is, and what the failover loop does about it.

Three answers: the provider's (a breaker failure, the next provider), the recipient's (the chain
stops, no breaker failure) and nobody's: the provider asks to be tried again later (SMTP
greylisting). That last one is no breaker failure either, so no caller, however many messages it
asks for, can open a breaker with it; the message waits for its retry through the chain, unless
the wait would outlast the message, when the loop goes on to the next provider at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import AttemptOutcome
from messaging.providers.base import ProviderError


def outcome_of(err: ProviderError) -> str:
    """The attempt outcome a provider's refusal stands for."""
    if err.recipient_fault:
        return AttemptOutcome.RECIPIENT_FAULT
    return AttemptOutcome.RETRY_LATER if err.retry_later else AttemptOutcome.PROVIDER_FAULT


def retry_delay(err: ProviderError) -> float:
    """Seconds to wait before trying again: the provider's own delay, or MESSAGING_RETRY_LATER_SECONDS."""
    return err.retry_after if err.retry_after is not None else float(settings.MESSAGING_RETRY_LATER_SECONDS)


def worth_waiting_for(retry_in: float | None, wait_until: datetime | None) -> bool:
    """Whether a "try again later" comes soon enough to wait for it rather than fail over now.

    `wait_until` is when the message stops being useful (its code expires); without one the loop
    cannot come back later, so it never waits.
    """
    if retry_in is None or wait_until is None:
        return False
    return timezone.now() + timedelta(seconds=retry_in) < wait_until
