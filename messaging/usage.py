"""How many messages a provider sent in the current UTC day and month: one Redis counter a period.

messaging.pricing asks for these on every delivery through a provider with a free tier or a quota
(price_next, quota_spent). Counting this month's CommunicationLog rows there cost a COUNT(*) per
delivery that grew with the month (11.5 % of a delivery's CPU in bench/README.md). Instead:

- record_sent (messaging/service.py) adds one to the provider's day and month counters after the
  row is committed (count_sent), in one script that adds only to counters that exist;
- a reader (sent_in) takes the counter; a missing one (the period's first read, a flushed or
  failed-over Redis, the counter's expiry) is seeded from the database rows, which stay the truth,
  with SET NX so two seeders agree. A Redis loss therefore never reads as zero sent.

Counters expire RESEED_SECONDS after their seed (and at their period's end at the latest), so the
count is taken from the database again every few minutes; any drift is bounded by that interval.
What a reset (lost key, failover, expiry) may do, and why it is safe:

- A seed that reads a row committed but not yet counted, whose count_sent then lands on the new
  counter, counts that message twice: the counter is high by at most the deliveries in flight at
  that instant (the worker's threads) until the next reseed. A high count makes a quota skip the
  provider a few messages early, or a free tier end a few messages early: never a message past a
  quota, never a paid message priced as free.
- A failover to a replica that missed the latest increments (Redis replicates asynchronously) reads
  low by those increments, as the broker loses its unreplicated messages, until the next reseed:
  a few ms of sends, a few seconds at worst; one more Redis failover per RESEED_SECONDS cannot pile up.
- Redis unreachable: sent_in counts the rows as before (slower, exact) and count_sent drops the
  increment (the next reseed puts it back).

The counter is per quota key (quota_key): the provider's name for the platform's account, which
counts every message the provider sent; `<provider>@<tenant>` for a tenant's own credential at it,
which counts only that tenant's messages at that provider (rows_of has the same scope). A send on a
tenant's credential adds to both.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Literal, cast

import redis
from django.db.models import QuerySet
from redis.commands.core import Script

from messaging.models import CommunicationLog
from otpsite.redis import get_redis, slotted_key

logger = logging.getLogger("messaging.usage")

Period = Literal["day", "month"]
PERIODS: tuple[Period, ...] = ("day", "month")
#: Seconds a counter lives after its seed before the next read counts the rows again.
RESEED_SECONDS = 300

# Add ARGV[1] to each key that exists; a missing one waits for its seed (which counts the row).
ADD_IF_SEEDED_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[1]) end
end
return 0
"""


def quota_key(provider: str, tenant: str = "") -> str:
    """Whose use a quota counts: the provider's for every tenant, or one tenant's own at it."""
    return f"{provider}@{tenant}" if tenant else provider


def rows_of(provider: str, tenant: str = "") -> QuerySet[CommunicationLog]:
    """The rows a quota key's counter counts when seeded (the same scope as quota_key)."""
    rows = CommunicationLog.objects.filter(provider_used=provider)
    return rows.filter(tenant_id=tenant) if tenant else rows


def period_bounds(period: Period, at: datetime) -> tuple[datetime, datetime]:
    """The UTC day or month holding `at`, as [start, end)."""
    start = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return start, start + timedelta(days=1)
    start = start.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


def counter_key(provider: str, period: Period, start: datetime, tenant: str = "") -> str:
    # One hash tag per quota key: count_sent's script touches the day and month keys together.
    return slotted_key("usage:" + quota_key(provider, tenant), period, start.strftime("%Y%m%d"))


def sent_in(provider: str, period: Period, *, now: datetime, tenant: str = "") -> int:
    """Messages the provider sent (for `tenant` only, if named) in the UTC day or month holding
    `now` (rows before `now`'s period excluded)."""
    start, end = period_bounds(period, now)
    key = counter_key(provider, period, start, tenant)
    try:
        client = get_redis()
        found = cast("bytes | None", client.get(key))
        if found is not None:
            return int(found)
        seeded = _count_rows(provider, start, end, tenant)
        ttl = max(1, min(RESEED_SECONDS, int((end - now).total_seconds()) + 1))
        client.set(key, seeded, nx=True, ex=ttl)
        found = cast("bytes | None", client.get(key))
        return seeded if found is None else int(found)
    except redis.RedisError:
        logger.warning("usage counter unreachable; counting rows", extra={"provider": provider})
        return _count_rows(provider, start, end, tenant)


def count_sent(provider: str, *, at: datetime, count: int = 1, tenant: str = "") -> None:
    """Add `count` messages sent at `at` to the seeded counters of quota_key(provider, tenant) (call
    after the rows commit)."""
    keys = [counter_key(provider, period, period_bounds(period, at)[0], tenant) for period in PERIODS]
    try:
        client = get_redis()
        _add_if_seeded(client)(keys=keys, args=[count], client=client)
    except redis.RedisError:
        logger.warning("usage counter unreachable; the next reseed counts it", extra={"provider": provider})


_scripts: dict[int, Script] = {}


def _add_if_seeded(client: redis.Redis) -> Script:
    """The script bound once per client (EVALSHA after the first call)."""
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(ADD_IF_SEEDED_LUA)
    return script


def _count_rows(provider: str, start: datetime, end: datetime, tenant: str = "") -> int:
    return rows_of(provider, tenant).filter(sent_at__gte=start, sent_at__lt=end).count()
