"""What messaging reports to health: can each channel still send.

``messaging_health()`` is messaging's part of ``GET /health/messaging`` (the JSON shape that
tests/messaging/test_health.py checks; observability.health composes it with otp's pending
deliveries): every provider of each chain with its breaker, and an overall status. A provider is
healthy when it is configured and its breaker is closed; a channel with no healthy provider makes
the service unhealthy.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from messaging import pricing, registry
from messaging.breaker import CLOSED, breaker_for
from messaging.models import AttemptOutcome, Channel, DeliveryAttempt
from messaging.providers.base import Provider
from messaging.receipts.health import receipt_summary

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
CHANNEL_SERVICES = {Channel.EMAIL: "EmailService", Channel.SMS: "SMSService"}
# How active_providers names a provider; one not listed is named after its class.
SERVICE_LABELS = {
    "ses": "AWS SES",
    "sendgrid": "SendGrid",
    "smtp": "SMTP",
    "sns": "AWS SNS",
    "twilio": "Twilio",
    "console": "Console",
}


def iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def is_configured(provider_class: type[Provider]) -> bool:
    try:
        return bool(provider_class.is_configured())
    except Exception:  # a broken credential chain is "not configured", never a 500
        return False


def public_error(provider: str, last_error: str) -> str | None:
    """What an anonymous caller may see of an error: its code, never its text.

    The text can hold a recipient, an account id or an internal host. The code is that of the
    provider's latest fault on record, or the leading identifier of the text (``InvalidClientTokenId:``).
    """
    if not last_error:
        return None
    code = latest_fault_codes(provider).first()
    match = _LEADING_CODE.match(last_error)
    return code or (match.group(1) if match else "error")


def latest_fault_codes(provider: str) -> QuerySet[DeliveryAttempt, str]:
    """The provider's fault codes, newest first: read through the partial index attempt_latest_fault_code."""
    faults = DeliveryAttempt.objects.filter(provider=provider, outcome=AttemptOutcome.PROVIDER_FAULT)
    return faults.exclude(error_code="").order_by("-id").values_list("error_code", flat=True)


_LEADING_CODE = re.compile(r"^([A-Za-z][A-Za-z0-9]{2,63}):")


def provider_report(
    provider_class: type[Provider], index: int, *, detailed: bool = False
) -> tuple[dict[str, Any], bool]:
    """One provider's entry, and whether the breaker state came from the shared store.

    detailed: show the breaker's whole last error (masked) rather than its code; staff only.
    """
    snapshot = breaker_for(provider_class.name).snapshot()
    configured = is_configured(provider_class)
    # A provider whose daily or monthly quota is spent is skipped like an open one.
    quota_spent = pricing.quota_spent(provider_class.name, now=timezone.now())
    entry = {
        "name": provider_class.display_name,
        "priority": registry.priority_name(index),
        "circuit_breaker": snapshot.state,
        "is_healthy": configured and snapshot.state == CLOSED and not quota_spent,
        "quota_spent": quota_spent,
        "failure_count": snapshot.failure_count,
        "last_error": (snapshot.last_error or None)
        if detailed
        else public_error(provider_class.name, snapshot.last_error),
        "configured": configured,
        "next_attempt_at": iso(snapshot.next_attempt_at),
    }
    entry.update(receipt_summary(provider_class.name, counts=detailed))
    return entry, snapshot.shared_store_available


def active_label(channel: Channel, provider_class: type[Provider]) -> str:
    # How active_providers names a provider: its registry label, else after its class.
    label = registry.label(provider_class.name) or provider_class.display_name.removesuffix("Provider")
    return f"{CHANNEL_SERVICES[channel]} ({label})"


def messaging_health(*, detailed: bool = False) -> dict[str, Any]:
    """The GET /health/messaging body; overall_status "unhealthy" means answer 503.

    detailed (staff): each last_error is the breaker's whole masked text; otherwise its code only.
    """
    report: dict[str, Any] = {"timestamp": iso(datetime.now(UTC))}
    active: dict[str, str | None] = {}
    shared = True
    all_healthy = True
    for channel in (Channel.EMAIL, Channel.SMS):
        chain = registry.chain(channel)
        entries = []
        for index, provider_class in enumerate(chain):
            entry, from_shared_store = provider_report(provider_class, index, detailed=detailed)
            entries.append(entry)
            shared = shared and from_shared_store
        report[f"{channel.value}_providers"] = entries
        first = next((cls for cls, e in zip(chain, entries, strict=True) if e["is_healthy"]), None)
        active[channel.value] = active_label(channel, first) if first else None
        all_healthy = all_healthy and all(e["is_healthy"] for e in entries)
    if any(label is None for label in active.values()):
        report["overall_status"] = UNHEALTHY
    else:
        report["overall_status"] = HEALTHY if all_healthy else DEGRADED
    report["active_providers"] = active
    report["shared_breaker_store_available"] = shared
    return report
