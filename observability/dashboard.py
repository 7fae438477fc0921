"""The admin dashboard (staff only): which provider is failing and since when, messages per hour
by outcome, failovers, cost this calendar month and last, the oldest undelivered code.

Everything but the breaker states is read from the database (DeliveryAttempt, CommunicationLog);
breaker states come from the shared breaker store, as health reports them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db.models import Case, Count, F, IntegerField, OuterRef, Q, Subquery, Sum, When
from django.db.models.functions import TruncDate, TruncHour
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from messaging import budgets
from messaging.models import CommunicationLog, DeliveryAttempt, MessageStatus
from messaging.pricing import CURRENCY
from observability.charts import Series, line_chart, stacked_bar_chart
from observability.operator_answers import (
    OUTCOMES,
    messages_per_hour,
    monthly_costs,
    oldest_undelivered,
    provider_rows,
)

HOURS = 24
DAYS = 30
DELIVERED = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.BOUNCED)
# One colour per message outcome, the same on every chart: green delivered, red failed.
OUTCOME_COLOURS = {
    "delivered": "#1a7f37",
    "sent": "#1f77b4",
    "pending": "#9a6700",
    "bounced": "#8c564b",
    "failed": "#cf222e",
}


@dataclass(frozen=True)
class FailoverHour:
    hour: datetime
    sent: int
    failovers: int


def hour_slots(now: datetime) -> list[datetime]:
    last = now.replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=HOURS - 1 - i) for i in range(HOURS)]


def attempts_per_hour(since: datetime) -> dict[tuple[str, str], dict[datetime, int]]:
    """(provider, outcome) -> hour -> attempts."""
    rows = (
        DeliveryAttempt.objects.filter(created_at__gte=since)
        .annotate(hour=TruncHour("created_at"))
        .values("hour", "provider", "outcome")
        .annotate(count=Count("id"))
    )
    table: dict[tuple[str, str], dict[datetime, int]] = defaultdict(dict)
    for row in rows:
        table[(row["provider"], row["outcome"])][row["hour"]] = row["count"]
    return table


def failovers_per_hour(since: datetime) -> dict[datetime, FailoverHour]:
    """Sent messages per hour, and those sent by a provider other than the one tried first."""
    first_attempt = DeliveryAttempt.objects.filter(log=OuterRef("pk")).order_by("created_at", "id").values("provider")
    rows = (
        CommunicationLog.objects.filter(sent_at__gte=since, status__in=DELIVERED)
        .annotate(first_provider=Subquery(first_attempt[:1]), hour=TruncHour("sent_at"))
        .annotate(
            failover=Case(When(~Q(first_provider=F("provider_used")), then=1), default=0, output_field=IntegerField())
        )
        .values("hour")
        .annotate(sent=Count("id"), failovers=Sum("failover"))
    )
    return {row["hour"]: FailoverHour(row["hour"], row["sent"], row["failovers"] or 0) for row in rows}


def cost_per_day(since: datetime) -> dict[str, dict[Any, Decimal]]:
    """provider -> day -> cost."""
    rows = (
        CommunicationLog.objects.filter(sent_at__gte=since)
        .exclude(provider_used="")
        .annotate(day=TruncDate("sent_at"))
        .values("day", "provider_used")
        .annotate(cost=Sum("cost"))
    )
    table: dict[str, dict[Any, Decimal]] = defaultdict(dict)
    for row in rows:
        table[row["provider_used"]][row["day"]] = row["cost"] or Decimal("0")
    return table


def dashboard_context(now: datetime) -> dict[str, Any]:
    hours = hour_slots(now)
    hour_labels = [timezone.localtime(h).strftime("%H:00") for h in hours]
    return {
        **provider_context(),
        **messages_context(hours, hour_labels),
        **failover_context(hours, hour_labels),
        **cost_context(now),
        "oldest_undelivered": oldest_undelivered(now),
        "budgets_near_cap": budgets_near_cap(now),
        "hours": HOURS,
        "days": DAYS,
        "now": now,
    }


def budgets_near_cap(now: datetime) -> list[budgets.Usage]:
    """Tenants at or past MESSAGING_BUDGET_WARNING_RATIO of their monthly cap, fullest first."""
    ratio = settings.MESSAGING_BUDGET_WARNING_RATIO
    return [use for use in budgets.usage(now=now) if use.ratio >= ratio]


def provider_context() -> dict[str, Any]:
    rows = provider_rows()
    return {"providers": rows, "failing": [row for row in rows if row.state != "closed"]}


def messages_context(hours: list[datetime], hour_labels: list[str]) -> dict[str, Any]:
    by_outcome = messages_per_hour(hours[0])
    shown = [outcome for outcome in OUTCOMES if outcome in by_outcome]
    series = [Series(outcome, [by_outcome[outcome].get(h, 0) for h in hours]) for outcome in shown]
    chart = stacked_bar_chart(
        "Messages per hour by outcome",
        hour_labels,
        series,
        colours=[OUTCOME_COLOURS[outcome] for outcome in shown],
    )
    totals = [(outcome, sum(by_outcome[outcome].values())) for outcome in shown]
    attempts = attempts_per_hour(hours[0])
    return {
        "messages_chart": chart,
        "message_totals": totals,
        "attempt_totals": sorted(((p, o, sum(v.values())) for (p, o), v in attempts.items()), key=lambda r: r[:2]),
    }


def failover_context(hours: list[datetime], hour_labels: list[str]) -> dict[str, Any]:
    failovers = failovers_per_hour(hours[0])
    sent_total = sum(f.sent for f in failovers.values())
    failover_total = sum(f.failovers for f in failovers.values())
    rates = [100 * f.failovers / f.sent if (f := failovers.get(h)) and f.sent else 0 for h in hours]
    return {
        "failover_chart": line_chart(
            "Failover rate per hour", hour_labels, [Series("failover rate (%)", rates)], unit="%"
        ),
        "sent_total": sent_total,
        "failover_total": failover_total,
        "failover_rate": f"{100 * failover_total / sent_total:.1f}" if sent_total else "0.0",
    }


def cost_context(now: datetime) -> dict[str, Any]:
    today = timezone.localdate(now)
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    costs = cost_per_day(now - timedelta(days=DAYS))
    cost_series = [Series(p, [float(by_day.get(d, 0)) for d in days]) for p, by_day in sorted(costs.items())]
    month_rows, months = monthly_costs(now)
    return {
        "cost_chart": stacked_bar_chart(
            f"Cost per day by provider ({CURRENCY})", [d.strftime("%m-%d") for d in days], cost_series, unit="$"
        ),
        "month_costs": month_rows,
        "months": months,
        "currency": CURRENCY,
    }


def dashboard_view(request: HttpRequest) -> HttpResponse:
    """Staff only: wrapped in admin.site.admin_view in web/urls.py."""
    context = {**admin.site.each_context(request), "title": "Messaging dashboard", **dashboard_context(timezone.now())}
    return TemplateResponse(request, "observability/dashboard.html", context)
