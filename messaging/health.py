"""What operators and load balancers ask: can each channel still send, and is the stack alive.

``messaging_health()`` is the body of ``GET /health/messaging`` (shape in ARCHITECTURE.md): every
provider of each chain with its breaker, and an overall status. A provider is healthy when it is
configured and its breaker is closed; a channel with no healthy provider makes the service
unhealthy. ``liveness()`` is the body of ``GET /health``: database, Redis and at least one Celery
worker, checked in parallel, each within CHECK_TIMEOUT_SECONDS.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from messaging import pricing, registry
from messaging.breaker import CLOSED, breaker_for
from messaging.masking import log_event
from messaging.models import AttemptOutcome, Channel, DeliveryAttempt
from messaging.providers.base import Provider
from messaging.receipts.health import receipt_summary
from otpsite.redis import get_redis

logger = logging.getLogger("messaging.health")

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
CHECK_TIMEOUT_SECONDS = 1.0
# A code accepted this long ago and still not handed to a provider makes pending_deliveries
# "delayed" (the same threshold as the alert on messaging_oldest_undelivered_age_seconds).
PENDING_DELAYED_SECONDS = 60


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
    report["pending_deliveries"] = pending_deliveries(detailed=detailed)
    return report


def pending_deliveries(*, detailed: bool = False) -> dict[str, Any]:
    """Accepted codes not yet handed to a provider: how many, and the age of the oldest (staff).

    Anyone else sees its state only: "ok", "delayed" (the oldest has waited more than
    PENDING_DELAYED_SECONDS, the alert's threshold) or "unavailable" (no database).
    """
    from otp.recovery import backlog_report

    report = backlog_report(now=timezone.now())
    age = report.get("oldest_age_seconds")
    state = "unavailable" if "error" in report else "delayed" if (age or 0) > PENDING_DELAYED_SECONDS else "ok"
    return {"state": state, **report} if detailed else {"state": state}


def staff_caller(*, user: Any, authorization: str) -> bool:
    """Whether a /health/messaging caller sees counts and error texts: a signed-in, active staff
    user (admin session), or a bearer token equal to METRICS_TOKEN (what Prometheus already holds)."""
    if user is not None and user.is_active and user.is_staff:
        return True
    scheme, _, token = authorization.partition(" ")
    expected = settings.METRICS_TOKEN
    return (
        bool(expected) and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
    )


# --- Liveness -------------------------------------------------------------------------------


def check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection


def check_redis() -> None:
    get_redis().ping()


def check_workers() -> None:
    from workers.celery import app

    if not app.control.ping(timeout=CHECK_TIMEOUT_SECONDS, limit=1):
        raise RuntimeError("no worker answered")


LIVENESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "workers": check_workers,
}


def liveness() -> dict[str, Any]:
    """The GET /health body; status "ok" only when every check passed in time."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=len(LIVENESS_CHECKS), thread_name_prefix="health")
    futures = {name: pool.submit(check) for name, check in LIVENESS_CHECKS.items()}
    checks: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        remaining = max(0.0, CHECK_TIMEOUT_SECONDS + 0.5 - (time.monotonic() - started))
        try:
            future.result(timeout=remaining)
        except FutureTimeout:
            checks[name] = {"ok": False, "detail": f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"}
        except Exception as err:
            # The exception's type only: messages may carry URLs with credentials.
            checks[name] = {"ok": False, "detail": type(err).__name__}
        else:
            checks[name] = {"ok": True, "detail": "ok"}
    # A check stuck on a dead host finishes (or times out) on its own; nobody waits for it.
    pool.shutdown(wait=False)
    ok = all(check["ok"] for check in checks.values())
    if not ok:
        failing = ",".join(name for name, check in checks.items() if not check["ok"])
        log_event(logger, "health.unavailable", level=logging.WARNING, failing=failing)
    return {"status": "ok" if ok else "unavailable", "timestamp": iso(datetime.now(UTC)), "checks": checks}
