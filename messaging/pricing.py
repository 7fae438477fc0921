"""What a message costs, whether a provider may take one more, and what a month's volume would cost.

A provider's price is its registry entry's `price` (messaging/providers/<name>/__init__.py) with
the operator's settings.MESSAGING_PRICES (MESSAGING_PRICES_JSON) merged over it field by field: a
`per_message` price (USD) and optionally `free_per_month` (messages a month at no charge),
`daily_quota` and `monthly_quota` (hard caps: once spent the failover loop skips the provider).
Use so far is the number of CommunicationLog rows the provider sent (provider_used, sent_at) in the
current UTC day and month, read from a Redis counter seeded from those rows (messaging/usage.py).

Scenario pricing (price_scenario) follows the rule the failover loop itself follows with every
provider healthy: each message goes to the first provider in the chain whose quota is not spent.
Free tiers do not move traffic (the loop does not route by price); they only make a provider's
first messages of the month cost nothing. So a provider takes min(what is left, its capacity),
where its capacity in a month of D days is min(monthly_quota, daily_quota x D) with the volume
spread evenly over the days; each provider's share is priced free tier first. Volume no provider
can take is reported as unplaced. With the defaults, 20,000 SMS cost $150.00 on Twilio alone
(20,000 x $0.0075) and $122.55 with SNS first (SNS takes all of them: 19,000 x $0.00645 after
its 1,000 free).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from messaging import registry, usage
from messaging.models import CommunicationLog

CENT = Decimal("0.01")
# Prices and CommunicationLog.cost are in this currency.
CURRENCY = "USD"


def with_currency(cost: Decimal | None) -> str:
    """A cost as operators read it: 0.007500 -> "0.0075 USD"; no cost -> "-"."""
    return "-" if cost is None else f"{cost.normalize():f} {CURRENCY}"


@dataclass(frozen=True)
class Price:
    per_message: Decimal = Decimal("0")
    free_per_month: int = 0
    daily_quota: int | None = None
    monthly_quota: int | None = None

    def cost(self, count: int, *, already_sent: int = 0) -> Decimal:
        """The cost of `count` more messages after `already_sent` this month, free tier first."""
        paid_before = max(0, already_sent - self.free_per_month)
        paid_after = max(0, already_sent + count - self.free_per_month)
        return (paid_after - paid_before) * self.per_message

    def monthly_capacity(self, days: int) -> int | None:
        """How many messages the quotas let through in a month of `days` days (None: no cap)."""
        caps = [c for c in (self.monthly_quota, self.daily_quota and self.daily_quota * days) if c is not None]
        return min(caps) if caps else None

    @property
    def counts_use(self) -> bool:
        """Whether the next message's price or admission depends on how many were sent already."""
        return bool(self.free_per_month) or self.daily_quota is not None or self.monthly_quota is not None


def price_of(provider: str) -> Price:
    """The provider's default price with settings.MESSAGING_PRICES over it; with neither it is free and uncapped."""
    entry = {**registry.default_price(provider), **settings.MESSAGING_PRICES.get(provider, {})}
    return Price(
        per_message=Decimal(str(entry.get("per_message") or 0)),
        free_per_month=optional_int(entry.get("free_per_month")) or 0,
        daily_quota=optional_int(entry.get("daily_quota")),
        monthly_quota=optional_int(entry.get("monthly_quota")),
    )


def priced_providers() -> list[str]:
    """Every provider that has a price: the registered ones, then any other settings.MESSAGING_PRICES names."""
    names = registry.names()
    return names + [name for name in settings.MESSAGING_PRICES if name not in names]


def optional_int(value: object) -> int | None:
    return None if value is None else int(str(value))


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def day_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def sent_since(provider: str, since: datetime, *, now: datetime) -> int:
    return CommunicationLog.objects.filter(provider_used=provider, sent_at__gte=since, sent_at__lte=now).count()


def quota_spent(provider: str, *, now: datetime, tenant: str = "") -> bool:
    """Whether the provider's daily or monthly quota (UTC) leaves no room for one more message.

    tenant: the quota of that tenant's own credential at the provider (its messages there only).
    """
    price = price_of(provider)
    if price.daily_quota is not None and usage.sent_in(provider, "day", now=now, tenant=tenant) >= price.daily_quota:
        return True
    monthly = price.monthly_quota
    return monthly is not None and usage.sent_in(provider, "month", now=now, tenant=tenant) >= monthly


def price_next(provider: str, *, now: datetime, tenant: str = "") -> Decimal:
    """The cost of the provider sending one more message now: free while this month's free tier
    lasts (the free tier of `tenant`'s own credential, if named)."""
    price = price_of(provider)
    already_sent = usage.sent_in(provider, "month", now=now, tenant=tenant) if price.free_per_month else 0
    return price.cost(1, already_sent=already_sent)


def count_use(provider: str, *, at: datetime, count: int = 1, tenant: str = "") -> None:
    """Count messages the provider sent (rows committed) towards its free tier and quotas, if it has
    any: the platform's, which counts every message, and `tenant`'s own credential's if it sent them."""
    if price_of(provider).counts_use:
        usage.count_sent(provider, at=at, count=count)
        if tenant:
            usage.count_sent(provider, at=at, count=count, tenant=tenant)


@dataclass(frozen=True)
class Share:
    provider: str
    messages: int
    cost: Decimal


@dataclass(frozen=True)
class ScenarioPrice:
    chain: tuple[str, ...]
    volume: int
    shares: tuple[Share, ...]
    unplaced: int

    @property
    def total(self) -> Decimal:
        return sum((share.cost for share in self.shares), Decimal("0"))


def price_scenario(volume: int, chain: list[str] | tuple[str, ...], *, days: int = 30) -> ScenarioPrice:
    """Price `volume` messages in one fresh month of `days` days under `chain` (rule in the module doc)."""
    left = volume
    shares = []
    for provider in chain:
        price = price_of(provider)
        capacity = price.monthly_capacity(days)
        taken = left if capacity is None else min(left, capacity)
        if taken:
            shares.append(Share(provider, taken, price.cost(taken)))
        left -= taken
    return ScenarioPrice(chain=tuple(chain), volume=volume, shares=tuple(shares), unplaced=left)


def month_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The UTC month holding `now`, as [start, end)."""
    start = month_start(now)
    return start, month_start(start + timedelta(days=32))
