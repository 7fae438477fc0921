"""Figures read when /metrics is scraped: facts about now, not counts of events.

Breaker states come from the shared breaker store (Redis); queue depth from the broker; undelivered
messages and quota use from the database. Each source is read on its own: one that fails is
reported by ``messaging_metrics_source_up{source=...} 0`` and the others still answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from messaging import budgets, pricing
from messaging.breaker import CLOSED, HALF_OPEN, OPEN, all_breakers
from messaging.models import Channel
from messaging.tenancy.breakers import troubled
from otp.recovery import owed_codes
from otpsite.logs import log_event
from otpsite.redis import get_broker_redis

logger = logging.getLogger("observability.collectors")

BREAKER_STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}
# Kombu's Redis transport keeps one list per priority step next to the queue's own.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


def breaker_metrics() -> Iterator[GaugeMetricFamily]:
    state = GaugeMetricFamily(
        "messaging_breaker_state",
        "Circuit breaker state per provider: 0 closed, 1 half open, 2 open.",
        labels=["provider"],
    )
    for snapshot in all_breakers():
        if not snapshot.shared_store_available:
            # This web process's own fallback store says nothing about the workers' breakers.
            raise ConnectionError("the breakers' shared store (Redis) is unreachable")
        state.add_metric([snapshot.provider], BREAKER_STATE_VALUES.get(snapshot.state, 2))
    yield state


def tenant_breaker_metrics() -> Iterator[GaugeMetricFamily]:
    """Tenants' own breakers that are not closed, worst first, at most MESSAGING_HEALTH_TENANT_BREAKERS
    (messaging.tenancy.breakers), so the tenant label stays bounded; a closed one is not exported."""
    state = GaugeMetricFamily(
        "messaging_tenant_breaker_state",
        "A tenant's own credential's circuit breaker that is not closed: 1 half open, 2 open; the worst "
        "MESSAGING_HEALTH_TENANT_BREAKERS only.",
        labels=["tenant", "provider"],
    )
    shown, _, _ = troubled(settings.MESSAGING_HEALTH_TENANT_BREAKERS)
    for found in shown:
        if not found.snapshot.shared_store_available:
            raise ConnectionError("the breakers' shared store (Redis) is unreachable")
        if found.snapshot.state != CLOSED:
            state.add_metric([found.tenant, found.provider], BREAKER_STATE_VALUES.get(found.snapshot.state, 2))
    yield state


def broker_queues() -> tuple[str, ...]:
    """The queues the workers consume (celeryconfig.task_queues), delivery first."""
    return tuple(settings.CELERY_QUEUES)


def queue_metrics() -> Iterator[GaugeMetricFamily]:
    depth = GaugeMetricFamily("messaging_queue_depth", "Tasks waiting in the broker queue.", labels=["queue"])
    client = get_broker_redis()  # a Redis broker, directly or through Sentinel; None for RabbitMQ
    if client is not None:
        with client.pipeline(transaction=False) as pipe:
            for queue in broker_queues():
                for suffix in PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        for index, queue in enumerate(broker_queues()):
            step = len(PRIORITY_SUFFIXES)
            depth.add_metric([queue], sum(lengths[index * step : (index + 1) * step]))
    elif settings.CELERY_BROKER_URL.startswith(("amqp://", "amqps://", "pyamqp://")):
        from observability.amqp_depth import queue_depths

        for queue, ready in queue_depths(broker_queues()):
            depth.add_metric([queue], ready)
    yield depth


def undelivered_metrics() -> Iterator[GaugeMetricFamily]:
    count = GaugeMetricFamily(
        "messaging_undelivered_messages", "Accepted messages no provider has taken yet.", labels=["channel"]
    )
    oldest = GaugeMetricFamily(
        "messaging_oldest_undelivered_age_seconds",
        "Age of the oldest accepted message no provider has taken yet (0 when there is none).",
        labels=["channel"],
    )
    now = timezone.now()
    rows = {
        row["channel"]: row
        # The same rows /health/messaging counts as owed (otp/recovery.py).
        for row in owed_codes(now=now)
        .order_by()
        .values("channel")
        .annotate(count=Count("id"), oldest=Min("created_at"))
    }
    for channel in Channel.values:
        row = rows.get(channel)
        count.add_metric([channel], row["count"] if row else 0)
        oldest.add_metric([channel], max(0.0, (now - row["oldest"]).total_seconds()) if row else 0.0)
    yield count
    yield oldest


def quota_metrics() -> Iterator[GaugeMetricFamily]:
    used = GaugeMetricFamily(
        "messaging_provider_quota_used",
        "Messages a provider sent in the current UTC period.",
        labels=["provider", "period"],
    )
    limit = GaugeMetricFamily(
        "messaging_provider_quota_limit",
        "A provider's quota for the period (daily or monthly).",
        labels=["provider", "period"],
    )
    now = timezone.now()
    for provider in pricing.priced_providers():
        price = pricing.price_of(provider)
        for period, cap, since in (
            ("day", price.daily_quota, pricing.day_start(now)),
            ("month", price.monthly_quota, pricing.month_start(now)),
        ):
            if cap is not None:
                used.add_metric([provider, period], pricing.sent_since(provider, since, now=now))
                limit.add_metric([provider, period], cap)
    yield used
    yield limit


def budget_metrics() -> Iterator[GaugeMetricFamily]:
    """Tenants' budgets: only tenants with a cap, at most MESSAGING_BUDGET_METRIC_TENANTS of them (the
    nearest their cap), so the tenant label stays bounded."""
    ratio = GaugeMetricFamily(
        "messaging_tenant_budget_used_ratio",
        "Share of its monthly spending cap a tenant has spent this UTC month (1 = spent); capped tenants "
        "nearest their cap only.",
        labels=["tenant"],
    )
    for use in budgets.usage(now=timezone.now(), limit=settings.MESSAGING_BUDGET_METRIC_TENANTS):
        ratio.add_metric([use.tenant], use.ratio)
    yield ratio


SOURCES: dict[str, Callable[[], Iterable[GaugeMetricFamily]]] = {
    "breakers": lambda: [*breaker_metrics(), *tenant_breaker_metrics()],
    "broker": queue_metrics,
    "database": lambda: [*undelivered_metrics(), *quota_metrics(), *budget_metrics()],
}


class CurrentStateCollector(Collector):
    """Collects every scrape-time figure; never raises because one source is down."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "messaging_metrics_source_up", "Whether /metrics could read this source just now.", labels=["source"]
        )
        for source, read in SOURCES.items():
            try:
                families = list(read())
            except Exception as err:
                error = type(err).__name__
                log_event(logger, "metrics.source_failed", level=logging.WARNING, source=source, error=error)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up
