"""Limits on a tenant's API use: requests per second and messages per day, per key and per tenant.

One Lua script per decision: it reads every counter the request would add to and adds to all of
them only when none is full, so a refused request uses up nothing. Windows are fixed: the second,
and the UTC day. Redis unreachable: the request is refused with 503 (the limits fail closed).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis
from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException

from accounts.models import ApiKey
from otpsite.redis import get_redis, slotted_key

# KEYS: counters; ARGV: their limits, then each counter's TTL in seconds. Returns 0 when admitted
# (every counter incremented), else the 1-based index of the first counter that is full.
ADMIT = """
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[i]) then return i end
end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIRE', key, ARGV[#KEYS + i])
end
return 0
"""


class TooMany(Exception):
    """A limit is full: the view answers 429 with `answer()` and Retry-After."""

    def __init__(self, *, scope: str, retry_after: int) -> None:
        super().__init__(f"too many requests ({scope})")
        self.wait = retry_after
        self.scope = scope

    def answer(self) -> dict[str, object]:
        return {"detail": f"Too many requests ({self.scope}). Try again later.", "retry_after": self.wait}


class LimitsDown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service is temporarily unavailable. Try again shortly."


def _admit(counters: list[tuple[str, int, int, int]]) -> None:
    """counters: (key, limit, ttl, retry_after). Raises TooMany naming the full one, or LimitsDown."""
    keys = [key for key, _, _, _ in counters]
    args = [str(limit) for _, limit, _, _ in counters] + [str(ttl) for _, _, ttl, _ in counters]
    try:
        full = int(get_redis().eval(ADMIT, len(keys), *keys, *args))  # type: ignore[arg-type]
    except redis.RedisError as err:
        raise LimitsDown() from err
    if full:
        key, _, _, retry_after = counters[full - 1]
        raise TooMany(scope=key.split(":")[-3], retry_after=retry_after)


def admit_request(api_key: ApiKey, *, now: datetime) -> None:
    """Count one API request against the key's and the tenant's requests per second."""
    second = str(int(now.timestamp()))
    _admit([
        (_key(api_key, "key_rps", str(api_key.pk), second), settings.MESSAGES_KEY_REQUESTS_PER_SECOND, 2, 1),
        (_key(api_key, "tenant_rps", api_key.tenant.slug, second), settings.MESSAGES_TENANT_REQUESTS_PER_SECOND,
         2, 1),
    ])  # fmt: skip


def admit_message(api_key: ApiKey, *, now: datetime) -> None:
    """Count one message against the key's and the tenant's messages per UTC day."""
    day = now.astimezone(UTC).strftime("%Y%m%d")
    midnight = (now.astimezone(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    until_midnight = max(1, int((midnight - now).total_seconds()))
    ttl = until_midnight + 3600
    _admit([
        (_key(api_key, "key_day", str(api_key.pk), day), settings.MESSAGES_KEY_PER_DAY, ttl, until_midnight),
        (_key(api_key, "tenant_day", api_key.tenant.slug, day), settings.MESSAGES_TENANT_PER_DAY, ttl,
         until_midnight),
    ])  # fmt: skip


def _key(api_key: ApiKey, *parts: str) -> str:
    # A key belongs to one tenant: the script's key and tenant counters share the tenant's Redis
    # Cluster slot, and tenants spread over the cluster.
    return slotted_key(f"api:{api_key.tenant.slug}", *parts)
