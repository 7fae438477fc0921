"""A tenant's monthly spending cap: the one home of the budget rule.

A tenant (CommunicationLog.tenant_id, its slug) may have a TenantBudget: a cap in USD
for each UTC month, and what to do at it (AtCap). The rule, for every paid provider call:

- Before the call its price is reserved in the tenant's TenantSpend row for the month by one
  conditional UPDATE (``spent + price <= cap``): concurrent calls from any number of workers queue
  on the row, so no call that would take the month past the cap is made. A call that fails gives
  its price back; a sent one keeps it (its cost is the price reserved). A missing row is seeded
  from the month's recorded costs.
- A call with no room is not made: its attempt is `skipped_budget` (never a breaker failure). A
  tenant that chose to refuse ends the message `failed` with BUDGET_ERROR, for good (no retry); one
  that chose the cheaper chain goes on through the rest of its chain and then the platform's
  cheaper chain (MESSAGING_BUDGET_*_PROVIDERS; default its chain, cheapest first), each call still
  reserved, and only when none fits does the message fail the same way.
- At 80 % (MESSAGING_BUDGET_WARNING_RATIO) the month's first call over it logs one warning event
  `messaging.budget_warning` and stamps the row; /metrics exports the ratio
  (observability.collectors) and the admin shows a banner.
- New sends are refused at accept time (messaging.budget_accept, HTTP 402) once a message was
  refused at the current cap or the spend reached it.

A worker killed between a reservation and its record keeps the price reserved: the cap errs on
the side of spending less, never more.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import F, Sum
from django.utils import timezone

from messaging import pricing, registry
from messaging.budget_models import AtCap, TenantBudget, TenantSpend
from messaging.models import Channel, CommunicationLog
from messaging.providers.base import Provider
from messaging.tenancy.cache import TENANTS
from messaging.tenancy.routing import Route, routes
from otpsite.logs import log_event

logger = logging.getLogger("messaging.budgets")

BUDGET_ERROR = "budget: the tenant's monthly spending cap of {cap} USD leaves no room for this message"


class OverBudget(Exception):
    """The tenant's cap has no room for this call's price."""


def budget_of(tenant: str) -> TenantBudget | None:
    """The tenant's budget if it has a cap, else None (no limit). Kept per process until a budget
    changes (messaging/tenancy/cache.py); the cap itself is enforced by `reserve`'s one UPDATE."""
    if not tenant:
        return None
    found: TenantBudget | None = TENANTS.cached(
        ("budget", tenant), lambda: TenantBudget.objects.filter(tenant=tenant, monthly_cap_usd__isnull=False).first()
    )
    return found


def month_of(now: datetime) -> date:
    return pricing.month_start(now).date()


def recorded_cost(tenant: str, *, now: datetime) -> Decimal:
    """What the tenant's sent messages cost in the UTC month holding `now`, from the logs."""
    start, end = pricing.month_bounds(now)
    total = CommunicationLog.objects.filter(tenant_id=tenant, sent_at__gte=start, sent_at__lt=end).aggregate(
        total=Sum("cost")
    )["total"]
    return total or Decimal("0")


def spend_row(tenant: str, *, now: datetime) -> TenantSpend:
    """The tenant's row for the month, made (seeded from the recorded costs) if missing."""
    month = month_of(now)
    found = TenantSpend.objects.filter(tenant=tenant, month=month).first()
    if found is not None:
        return found
    seed = TenantSpend(tenant=tenant, month=month, spent_usd=recorded_cost(tenant, now=now))
    TenantSpend.objects.bulk_create([seed], ignore_conflicts=True)  # a concurrent seed wins alike
    return TenantSpend.objects.get(tenant=tenant, month=month)


RESERVE_SQL = (
    "UPDATE messaging_tenant_spend SET spent_usd = spent_usd + %s "
    "WHERE tenant = %s AND month = %s AND spent_usd + CAST(%s AS NUMERIC) <= CAST(%s AS NUMERIC) "
    "RETURNING spent_usd, warned_at IS NULL"
)


@dataclass
class Reservation:
    tenant: str
    month: date
    amount: Decimal

    def release(self) -> None:
        """Give the price back: the call was not made or the provider did not take the message."""
        if self.amount:
            spend = TenantSpend.objects.filter(tenant=self.tenant, month=self.month)
            spend.update(spent_usd=F("spent_usd") - self.amount)
            self.amount = Decimal("0")


def _reserve_row(price: Decimal, *, tenant: str, month: date, cap: Decimal) -> tuple[Decimal, bool] | None:
    """The one statement that reserves: (spent now, not yet warned), or None (no room, or no row)."""
    with connection.cursor() as cursor:
        cursor.execute(RESERVE_SQL, [price, tenant, month, price, cap])
        row = cursor.fetchone()
    return None if row is None else (Decimal(str(row[0])), bool(row[1]))  # SQLite (make run) gives floats


def reserve(budget: TenantBudget, price: Decimal, *, now: datetime) -> Reservation:
    """Reserve `price` under the budget's cap for the month; raise OverBudget when it does not fit."""
    cap, tenant, month = budget.monthly_cap_usd, budget.tenant, month_of(now)
    assert cap is not None
    if not price:
        return Reservation(tenant, month, Decimal("0"))
    row = _reserve_row(price, tenant=tenant, month=month, cap=cap)
    if row is None and not TenantSpend.objects.filter(tenant=tenant, month=month).exists():
        spend_row(tenant, now=now)  # the month's first paid call: seed the row, then reserve
        row = _reserve_row(price, tenant=tenant, month=month, cap=cap)
    if row is None:
        TenantSpend.objects.filter(tenant=tenant, month=month).update(refused_at_cap=cap)
        log_event(logger, "messaging.budget_refused", tenant=tenant, cap_usd=str(cap))
        raise OverBudget(BUDGET_ERROR.format(cap=cap))
    spent, not_warned = row
    if not_warned and spent >= cap * Decimal(str(settings.MESSAGING_BUDGET_WARNING_RATIO)):
        give_notice(budget, spent=spent, month=month, now=now)
    return Reservation(tenant, month, price)


def give_notice(budget: TenantBudget, *, spent: Decimal, month: date, now: datetime) -> None:
    """The 80 % notice, once a month: whoever stamps the row logs it."""
    stamped = TenantSpend.objects.filter(tenant=budget.tenant, month=month, warned_at__isnull=True).update(
        warned_at=now
    )
    if stamped:
        log_event(logger, "messaging.budget_warning", level=logging.WARNING, tenant=budget.tenant,
                  spent_usd=str(spent.quantize(pricing.CENT)), cap_usd=str(budget.monthly_cap_usd))  # fmt: skip


def cheaper_chain(channel: Channel) -> list[type[Provider]]:
    """The platform's cheaper chain for a tenant at its cap: the setting, else the channel's chain
    ordered by price per message, cheapest first."""
    names = settings.MESSAGING_BUDGET_PROVIDERS.get(str(channel)) or sorted(
        registry.chain_names(channel), key=lambda name: pricing.price_of(name).per_message
    )
    return [registry.provider_class(name) for name in names]


CHEAPER_CHAIN_VARIABLES = {
    Channel.EMAIL: "MESSAGING_BUDGET_EMAIL_PROVIDERS",
    Channel.SMS: "MESSAGING_BUDGET_SMS_PROVIDERS",
}


def validate_cheaper_chains() -> None:
    """At start-up: raise ImproperlyConfigured, naming the variable, for an unknown provider or one
    of the other channel in a cheaper chain."""
    known = registry.entries()
    for channel, variable in CHEAPER_CHAIN_VARIABLES.items():
        for name in settings.MESSAGING_BUDGET_PROVIDERS.get(str(channel)) or []:
            if name not in known or registry.provider_class(name).channel != channel:
                raise ImproperlyConfigured(f"{variable} names {name!r}, which is not a {channel} provider")


class Walk:
    """The providers one walk of the chain tries, and the budget's part in it.

    The failover loop iterates it, reserves each call's price through it (`reserve`), gives the
    price back when a call fails (`release`), and asks it what a refusal means (`over_budget`).
    """

    def __init__(self, log: CommunicationLog, chain: Sequence[Route]) -> None:
        self.log, self.chain = log, list(chain)
        self.refused = ""  # the budget error, once the budget refused a call
        self._budget: TenantBudget | bool | None = False  # False: not read yet
        self._held: Reservation | None = None

    def __iter__(self) -> Iterator[Route]:
        yield from self.chain
        if self.refused and self.budget is not None and self.budget.at_cap == AtCap.CHEAPER:
            tried = {route.name for route in self.chain}
            cheaper = [p for p in cheaper_chain(Channel(self.log.channel)) if p.name not in tried]
            yield from routes(self.log, cheaper)  # with the tenant's own credentials where it has them

    @property
    def budget(self) -> TenantBudget | None:
        if self._budget is False:
            self._budget = budget_of(self.log.tenant_id)
        return self._budget  # type: ignore[return-value]

    def reserve(self, price: Decimal) -> None:
        """Hold `price` for the next call; raises OverBudget when the tenant's cap has no room."""
        budget = self.budget if price else None
        self._held = reserve(budget, price, now=timezone.now()) if budget is not None else None

    def release(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None

    def over_budget(self, error: str) -> bool:
        """Note a refusal; True when the walk stops here (the tenant refuses at its cap)."""
        self.refused = error
        return self.budget is None or self.budget.at_cap == AtCap.REFUSE


@dataclass(frozen=True)
class Usage:
    tenant: str
    spent_usd: Decimal
    cap_usd: Decimal
    warned: bool

    @property
    def ratio(self) -> float:
        return float(self.spent_usd / self.cap_usd) if self.cap_usd else 1.0

    @property
    def past_warning(self) -> bool:
        """At or past MESSAGING_BUDGET_WARNING_RATIO (80 %): the banners show it."""
        return self.ratio >= settings.MESSAGING_BUDGET_WARNING_RATIO


def usage(*, now: datetime, limit: int | None = None, tenant: str | None = None) -> list[Usage]:
    """This month's use of every capped tenant (or the `limit` nearest their cap; or only `tenant`),
    fullest first."""
    capped = TenantBudget.objects.filter(monthly_cap_usd__isnull=False)
    if tenant is not None:
        capped = capped.filter(tenant=tenant)
    caps: dict[str, Decimal] = {budget.tenant: budget.monthly_cap_usd or Decimal("0") for budget in capped}
    spends = {row.tenant: row for row in TenantSpend.objects.filter(month=month_of(now), tenant__in=list(caps))}
    none = TenantSpend(spent_usd=Decimal("0"))
    found = [
        Usage(tenant, spends.get(tenant, none).spent_usd, cap, spends.get(tenant, none).warned_at is not None)
        for tenant, cap in caps.items()
    ]
    found.sort(key=lambda use: (-use.ratio, use.tenant))
    return found if limit is None else found[:limit]
