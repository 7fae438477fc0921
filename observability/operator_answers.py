"""The operator's three questions, read for the dashboard: which provider is failing (and since
when), what happened to the messages each hour, and what this month and the last one cost.

Breaker states come from the shared breaker store; everything else from the database. A last
failure is always shown with its time (from its DeliveryAttempt), so a breaker that closed again
does not look as if its old error were current.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncHour

from messaging.breaker import CLOSED, BreakerSnapshot, all_breakers
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.pricing import month_bounds, with_currency
from otp.recovery import owed_codes

# A message's outcome on the dashboard: its status, with queued and sending as one "pending".
OUTCOMES = ("delivered", "sent", "pending", "bounced", "failed")
PENDING = (MessageStatus.QUEUED, MessageStatus.SENDING)


@dataclass(frozen=True)
class ProviderRow:
    provider: str
    state: str
    opened_at: datetime | None
    next_attempt_at: datetime | None
    failure_count: int
    breaker_error: str  # the breaker's own last error, shown only while it is not closed
    last_failure_at: datetime | None
    last_failure: str
    last_success_at: datetime | None


def provider_rows() -> list[ProviderRow]:
    """Every provider's breaker with the time and text of its last failed and last good attempt."""
    last = DeliveryAttempt.objects.values("provider").annotate(
        failed_at=Max("created_at", filter=Q(outcome=AttemptOutcome.PROVIDER_FAULT)),
        sent_at=Max("created_at", filter=Q(outcome=AttemptOutcome.SENT)),
    )
    times: dict[str, dict[str, Any]] = {row["provider"]: dict(row) for row in last}
    return [_row(snapshot, times.get(snapshot.provider, {})) for snapshot in all_breakers()]


def _row(snapshot: BreakerSnapshot, times: dict[str, Any]) -> ProviderRow:
    failed_at = times.get("failed_at")
    failure = ""
    if failed_at is not None:
        attempt = (
            DeliveryAttempt.objects.filter(
                provider=snapshot.provider, outcome=AttemptOutcome.PROVIDER_FAULT, created_at=failed_at
            )
            .values("error_code", "error")
            .first()
        )
        failure = " ".join(filter(None, [attempt["error_code"], attempt["error"][:120]])) if attempt else ""
    return ProviderRow(
        provider=snapshot.provider,
        state=snapshot.state,
        opened_at=snapshot.opened_at,
        next_attempt_at=snapshot.next_attempt_at,
        failure_count=snapshot.failure_count,
        breaker_error=snapshot.last_error if snapshot.state != CLOSED else "",
        last_failure_at=failed_at,
        last_failure=failure,
        last_success_at=times.get("sent_at"),
    )


def outcome_of(status: str) -> str:
    return "pending" if status in PENDING else status


def messages_per_hour(since: datetime) -> dict[str, dict[datetime, int]]:
    """outcome -> hour the message was accepted -> messages (one per message, however many attempts)."""
    rows = (
        CommunicationLog.objects.filter(created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "status")
        .annotate(count=Count("id"))
    )
    table: dict[str, dict[datetime, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        table[outcome_of(row["status"])][row["hour"]] += row["count"]
    return table


@dataclass(frozen=True)
class CostRow:
    channel: str
    provider: str
    this_month_messages: int
    this_month_cost: str
    last_month_messages: int
    last_month_cost: str


def monthly_costs(now: datetime) -> tuple[list[CostRow], dict[str, str]]:
    """Per channel and provider: messages sent and their cost this calendar month and last (UTC)."""
    this_start, this_end = month_bounds(now)
    last_start, _ = month_bounds(this_start - timedelta(days=1))
    months = {"this": (this_start, this_end), "last": (last_start, this_start)}
    figures: dict[tuple[str, str], dict[str, tuple[int, Decimal]]] = defaultdict(dict)
    totals: dict[str, Decimal] = {}
    for month, (start, end) in months.items():
        rows = (
            CommunicationLog.objects.filter(sent_at__gte=start, sent_at__lt=end)
            .exclude(provider_used="")
            .values("channel", "provider_used")
            .annotate(messages=Count("id"), cost=Sum("cost"))
        )
        for row in rows:
            figures[(row["channel"], row["provider_used"])][month] = (row["messages"], row["cost"] or Decimal("0"))
        totals[month] = sum((cost for by in figures.values() for m, (_, cost) in by.items() if m == month), Decimal(0))
    table = [
        CostRow(
            channel=channel,
            provider=provider,
            this_month_messages=by.get("this", (0, Decimal(0)))[0],
            this_month_cost=with_currency(by.get("this", (0, Decimal(0)))[1]),
            last_month_messages=by.get("last", (0, Decimal(0)))[0],
            last_month_cost=with_currency(by.get("last", (0, Decimal(0)))[1]),
        )
        for (channel, provider), by in sorted(figures.items())
    ]
    labels = {
        "this": this_start.strftime("%B %Y"),
        "last": last_start.strftime("%B %Y"),
        "this_total": with_currency(totals["this"]),
        "last_total": with_currency(totals["last"]),
    }
    return table, labels


@dataclass(frozen=True)
class OldestUndelivered:
    count: int
    created_at: datetime | None
    age_seconds: float | None
    channel: str
    status: str
    error: str


def oldest_undelivered(now: datetime) -> OldestUndelivered:
    """The oldest accepted code no provider has taken yet and that can still verify."""
    owed = owed_codes(now=now)
    row = owed.values("created_at", "channel", "status", "error_message").first()
    if row is None:
        return OldestUndelivered(0, None, None, "", "", "")
    age = (now - row["created_at"]).total_seconds()
    return OldestUndelivered(owed.count(), row["created_at"], age, row["channel"], row["status"], row["error_message"])
