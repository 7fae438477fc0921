"""SMS pumping guard by conversion: a number prefix whose codes nobody enters stops getting them.

Per source (anonymous traffic, or one tenant's API keys) and per destination prefix and country,
Redis keeps the sends and the verified codes of a sliding window (SMS_PUMPING_WINDOW_SECONDS).
When a prefix reaches SMS_PUMPING_PREFIX_MIN_UNVERIFIED unverified sends while under
SMS_PUMPING_MIN_VERIFY_RATE of its sends were verified, new sends from that source to the prefix
are refused (429, scope ``sms_pumping``) for SMS_PUMPING_BLOCK_SECONDS. When the country as a
whole looks pumped, its prefixes block sooner (SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK). A
single client counts at most SMS_PUMPING_PER_CLIENT unverified sends to one prefix before it alone
is refused there, so one client cannot block a prefix for everyone; anonymous traffic never blocks a
tenant's. Real users elsewhere, in the same country too, are untouched.

The decision runs inside the send limits' script (otp.limits), so a send still costs one Redis
round trip; this module holds its keys, its Lua and the operator's view (list and lift blocks).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any, cast

import phonenumbers
from django.conf import settings

from otpsite.logs import log_event
from otpsite.redis import get_redis, slotted_key

logger = logging.getLogger(__name__)

SCOPE = "sms_pumping"
REFUSED_DETAIL = "Text messages to this number range are paused because of suspected SMS fraud. Try again later."

# Lua run by the send script after a send was admitted (its KEYS[2..8] are :meth:`Target.keys`).
# ARGV positions are passed in as P0..: window ms, min unverified, rate per mille, country min
# unverified, min unverified under attack, block ms, registry field. Sets `tripped` to 1 when this
# send blocked the prefix.
COUNT_LUA = """
local pw = tonumber(ARGV[P0])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], pw)
local function stats(sent, ok)
  redis.call('ZADD', sent, now, ARGV[1])
  redis.call('PEXPIRE', sent, pw)
  redis.call('ZREMRANGEBYSCORE', sent, '-inf', now - pw)
  redis.call('ZREMRANGEBYSCORE', ok, '-inf', now - pw)
  local s = redis.call('ZCARD', sent)
  return s, math.min(redis.call('ZCARD', ok), s)
end
local ps, pv = stats(KEYS[4], KEYS[5])
local cs, cv = stats(KEYS[6], KEYS[7])
local rate = tonumber(ARGV[P0 + 2]) / 1000
local threshold = tonumber(ARGV[P0 + 1])
if cs - cv >= tonumber(ARGV[P0 + 3]) and cv < rate * cs then threshold = tonumber(ARGV[P0 + 4]) end
if ps - pv >= threshold and pv < rate * ps then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[P0 + 5])
  redis.call('HSET', KEYS[8], ARGV[P0 + 6], now + tonumber(ARGV[P0 + 5]))
  tripped = 1
end
"""

# Lua run by the send script before deciding: a blocked prefix, or a client past its share.
CHECK_LUA = """
local blocked = redis.call('PTTL', KEYS[2])
if blocked > 0 then refuse('sms_pumping', blocked) end
if tonumber(redis.call('GET', KEYS[3]) or '0') >= tonumber(ARGV[P0 + 7]) then
  refuse('sms_pumping', math.max(redis.call('PTTL', KEYS[3]), 1))
end
"""

ARG_COUNT = 8

# KEYS[1] client's share, KEYS[2] prefix verified, KEYS[3] country verified; ARGV[1] member, ARGV[2] window ms.
_VERIFIED_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
for i = 2, 3 do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
"""


@dataclass(frozen=True)
class Target:
    """Where an SMS goes, seen by the guard: the source's counters for its prefix and country."""

    source: str
    prefix: str
    country: str
    client: str

    @classmethod
    def of(cls, phone_e164: str, *, tenant_id: str, client: str) -> Target:
        return cls(source=source_of(tenant_id), prefix=sms_prefix(phone_e164), country=country_of(phone_e164),
                   client=client)  # fmt: skip

    def keys(self) -> list[str]:
        """Block, the client's share, prefix sends and verifies, country sends and verifies, the registry."""
        return [
            _key(self.source, "block", self.prefix),
            _key(self.source, "client", self.prefix, self.client),
            _key(self.source, "sent", self.prefix),
            _key(self.source, "ok", self.prefix),
            _key(self.source, "sent", self.country),
            _key(self.source, "ok", self.country),
            _registry_key(),
        ]

    def args(self) -> list[Any]:
        s = settings
        return [
            s.SMS_PUMPING_WINDOW_SECONDS * 1000, s.SMS_PUMPING_PREFIX_MIN_UNVERIFIED,
            round(s.SMS_PUMPING_MIN_VERIFY_RATE * 1000), s.SMS_PUMPING_COUNTRY_MIN_UNVERIFIED,
            s.SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK, s.SMS_PUMPING_BLOCK_SECONDS * 1000,
            self.field(), s.SMS_PUMPING_PER_CLIENT,
        ]  # fmt: skip

    def field(self) -> str:
        return f"{self.source} {self.prefix} {self.country}"


def source_of(tenant_id: str) -> str:
    """Anonymous callers act for the default tenant: theirs is the anonymous source."""
    return "anonymous" if tenant_id == settings.OTP_DEFAULT_TENANT else f"tenant:{tenant_id}"


def sms_prefix(phone_e164: str) -> str:
    """The first SMS_PREFIX_DIGITS digits of the number: a block of adjacent numbers."""
    digits = "".join(ch for ch in phone_e164 if ch.isdigit())
    return "+" + digits[: settings.SMS_PREFIX_DIGITS]


def country_of(phone_e164: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone_e164, None)) or "ZZ"
    except phonenumbers.NumberParseException:
        return "ZZ"


def record_verified(phone_e164: str, *, tenant_id: str, client: str, run: Any) -> None:
    """A code sent to this number was verified: it counts for its prefix and country, and no
    longer against the client's share. `run` is otp.limits.run_script (fails closed)."""
    target = Target.of(phone_e164, tenant_id=tenant_id, client=client)
    _, share, _, prefix_ok, _, country_ok, _ = target.keys()
    window_ms = settings.SMS_PUMPING_WINDOW_SECONDS * 1000
    run(_VERIFIED_SCRIPT, [share, prefix_ok, country_ok], [secrets.token_hex(8), window_ms])


def tripped(target: Target, *, client_ip: str) -> None:
    """Log the block a send just set off; the metric is counted by the view."""
    log_event(logger, "otp.send.pumping_block", level=logging.WARNING, source=target.source, prefix=target.prefix,
              country=target.country, ip=client_ip)  # fmt: skip


@dataclass(frozen=True)
class Block:
    source: str
    prefix: str
    country: str
    until_ms: int


def active_blocks() -> list[Block]:
    """Every prefix blocked now, for the admin (expired entries are dropped as they are read)."""
    r = get_redis()
    now_ms = _redis_now_ms()
    blocks = []
    for field, until in cast(dict[str, str], r.hgetall(_registry_key())).items():
        source, prefix, country = str(field).split(" ")
        if int(until) <= now_ms or not r.exists(_key(source, "block", prefix)):
            r.hdel(_registry_key(), field)
            continue
        blocks.append(Block(source=source, prefix=prefix, country=country, until_ms=int(until)))
    return sorted(blocks, key=lambda b: (b.country, b.prefix, b.source))


def lift_block(*, source: str, prefix: str, country: str) -> None:
    """An operator lifts a block: the prefix starts over with no sends counted."""
    r = get_redis()
    r.delete(_key(source, "block", prefix), _key(source, "sent", prefix), _key(source, "ok", prefix))
    r.hdel(_registry_key(), f"{source} {prefix} {country}")


def _redis_now_ms() -> int:
    seconds, micros = cast(tuple[int, int], get_redis().time())
    return int(seconds) * 1000 + int(micros) // 1000


# The Redis Cluster hash tag of the send script's keys (otp.limits), these included: one send is
# decided atomically across its recipient, client, tenant, budget and pumping keys, so they share a
# slot (README, "Redis Sentinel and Cluster").
SLOT = "send"


def _key(source: str, kind: str, *parts: str) -> str:
    return slotted_key(SLOT, "pumping", source, kind, *parts)


def _registry_key() -> str:
    return slotted_key(SLOT, "pumping", "blocks")
