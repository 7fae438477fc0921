"""Atomic send limits and SMS pumping guards, kept in Redis (the verify lockout is otp/lockout.py).

Every decision is one Lua script, so it is one round trip and no two requests can both take the
last slot. Time comes from Redis (``TIME`` inside the script), so every web process agrees on
it. Limits are sliding windows (a sorted set of send times per key): "3 per 10 minutes" means
at most 3 in any 10 minutes. A send is counted against every limit only when it passes all of
them, so a refused request never uses up anyone's allowance.

Recipients appear in Redis keys only as an HMAC, never in clear. When Redis cannot be reached
every function raises :class:`LimitsUnavailable`: the limits fail closed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import phonenumbers
import redis
from django.conf import settings
from redis.commands.core import Script

from otp import metrics, pumping
from otp.canonical import canonical_recipient
from otpsite.network import ip_bucket, is_key_identity
from otpsite.redis import get_redis, slotted_key

logger = logging.getLogger(__name__)

T = TypeVar("T")


class RateLimited(Exception):
    """A limit refused the request; ``retry_after`` seconds from now it may pass."""

    def __init__(self, *, scope: str, retry_after: int) -> None:
        super().__init__(f"rate limited ({scope}); retry after {retry_after}s")
        self.scope = scope
        self.retry_after = retry_after


class LimitsUnavailable(Exception):
    """The store behind the limits cannot be reached; the request must be refused (503)."""


class DestinationRefused(Exception):
    """An SMS destination outside the allow list; ``str(err)`` is the field error for "phone"."""

    def __init__(self, message: str, *, region: str | None) -> None:
        super().__init__(message)
        self.region = region


@dataclass(frozen=True)
class Window:
    """At most ``limit`` sends per ``seconds`` (sliding) for one key, refused as ``scope``."""

    scope: str
    key: str
    limit: int
    seconds: int
    # A window of the same send whose being empty lets this one through even when full.
    exempt_if_empty: str = ""


# --- Lua ------------------------------------------------------------------------------------

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] the (recipient, client) cooldown, KEYS[2..8] the SMS pumping guard's keys (otp.pumping;
# unused unless ARGV[3] is 1), KEYS[9..] windows. ARGV[1] member, ARGV[2] cooldown ms, ARGV[3]
# pumping guard on 0/1, ARGV[4..11] its arguments, then for each window: limit, window ms, scope,
# and the index in KEYS of a window whose emptiness exempts this one (0: none). Returns {allowed
# 0/1, scope, retry after ms, 1 if this send blocked its prefix}; the longest wait names the scope.
_SEND_SCRIPT = (
    _NOW_MS
    + """
local scope, wait, tripped = '', 0, 0
local function refuse(s, w) if w > wait then scope, wait = s, w end end
local cooldown = redis.call('PTTL', KEYS[1])
if cooldown > 0 then refuse('cooldown', cooldown) end
if ARGV[3] == '1' then
"""
    + pumping.CHECK_LUA
    + """
end
local counts = {}
for i = 9, #KEYS do
  local a = 12 + (i - 9) * 4
  local limit, window = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local count = redis.call('ZCARD', KEYS[i])
  local exempt = tonumber(ARGV[a + 3])
  if count >= limit then
    -- Expired sends still in the set only count high: drop them only when they could refuse.
    count = count - redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  end
  counts[i] = count
  if exempt > 0 and count >= limit and counts[exempt] > 0 then
    -- The exempting window may hold expired sends: count it exactly before deciding.
    local exempt_window = tonumber(ARGV[12 + (exempt - 9) * 4 + 1])
    counts[exempt] = counts[exempt] - redis.call('ZREMRANGEBYSCORE', KEYS[exempt], '-inf', now - exempt_window)
  end
  if count >= limit and not (exempt > 0 and counts[exempt] == 0) then
    local free_at = now + window
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    if oldest[2] then free_at = tonumber(oldest[2]) + window end
    refuse(ARGV[a + 2], free_at - now)
  end
end
if scope ~= '' then return {0, scope, wait, 0} end
for i = 9, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[12 + (i - 9) * 4 + 1])
end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], '1', 'PX', ARGV[2]) end
if ARGV[3] == '1' then
"""
    + pumping.COUNT_LUA
    + """
end
return {1, '', 0, tripped}
"""
).replace("P0", "4")

_scripts: dict[str, Script] = {}


def run_script(source: str, keys: list[str], args: list[Any]) -> Any:
    """Run a script on the process's client (EVALSHA, loading it once); Redis errors fail closed."""
    return fail_closed(lambda: _script(source)(keys=keys, args=args, client=get_redis()))


def _script(source: str) -> Script:
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = get_redis().register_script(source)
    return script


def fail_closed(call: Callable[[], T]) -> T:
    try:
        return call()
    except redis.RedisError as err:
        raise LimitsUnavailable("the rate-limit store is unreachable") from err


# --- Sending --------------------------------------------------------------------------------


def check_send(*, channel: str, recipient: str, tenant_id: str, client_ip: str) -> None:
    """Count one send against every limit that applies, or refuse it without counting anything.

    `client_ip` is the client's identity (otpsite.network.client_identity): an address, or an API
    key's end user or the key itself. Limits: per (recipient, client) and its cooldown, per
    recipient from all clients (past which each client still gets one send per window), per client
    (or per key), per tenant; for SMS the source's hourly budget and the pumping guard
    (otp.pumping). One Redis round trip. A send that blocks its prefix is logged as a warning.

    Raises RateLimited (scope and retry_after of the limit that frees last) or LimitsUnavailable.
    """
    digest = recipient_digest(recipient)
    client = ip_bucket(client_ip)
    windows = send_windows(channel=channel, recipient=recipient, tenant_id=tenant_id, client_ip=client, digest=digest)
    target = pumping.Target.of(recipient, tenant_id=tenant_id, client=client) if channel == "sms" else None
    allowed, scope, wait_ms, tripped = _run_send(
        cooldown_key=_send_key("cooldown", digest, client), windows=windows, target=target,
        cooldown_ms=settings.OTP_RESEND_COOLDOWN_SECONDS * 1000,
    )  # fmt: skip
    if tripped and target is not None:
        pumping.tripped(target, client_ip=client)
        metrics.sms_pumping_block(target.country)
    if not allowed:
        raise RateLimited(scope=scope, retry_after=seconds_from_ms(wait_ms))


def count_paid_send(*, channel: str, tenant_id: str) -> bool:
    """Count a paid send made without a request (a receipt-driven resend) against its source's
    budget; False, counting nothing, if the budget is spent. Raises LimitsUnavailable."""
    if channel != "sms":
        return True
    allowed, _, _, _ = _run_send(cooldown_key=_send_key("none"), windows=[_sms_budget(tenant_id)], target=None,
                                 cooldown_ms=0)  # fmt: skip
    return bool(allowed)


def _run_send(*, cooldown_key: str, windows: list[Window], target: pumping.Target | None, cooldown_ms: int) -> Any:
    guard_keys = target.keys() if target else [_send_key("none")] * 7
    guard_args = target.args() if target else [0] * pumping.ARG_COUNT
    args: list[Any] = [secrets.token_hex(8), cooldown_ms, 1 if target else 0, *guard_args]
    indexes = {w.scope: i + 9 for i, w in enumerate(windows)}
    for window in windows:
        args += [window.limit, window.seconds * 1000, window.scope, indexes.get(window.exempt_if_empty, 0)]
    return run_script(_SEND_SCRIPT, [cooldown_key, *guard_keys, *(w.key for w in windows)], args)


def send_windows(*, channel: str, recipient: str, digest: str, tenant_id: str, client_ip: str) -> list[Window]:
    """The sliding windows one send is counted against (the cooldown is separate).

    `digest` is the recipient's :func:`recipient_digest`; `client_ip` the client's identity.
    """
    s = settings
    client = ip_bucket(client_ip)
    windows = [
        Window("recipient", _send_key("recipient", digest, client), s.OTP_SEND_LIMIT_PER_RECIPIENT,
               s.OTP_SEND_RECIPIENT_WINDOW_SECONDS),
        Window("recipient_cap", _send_key("recipient", digest), s.OTP_SEND_RECIPIENT_CAP,
               s.OTP_SEND_RECIPIENT_WINDOW_SECONDS, exempt_if_empty="recipient"),
        Window("tenant", _send_key("tenant", tenant_id), s.OTP_SEND_LIMIT_PER_TENANT, s.OTP_SEND_TENANT_WINDOW_SECONDS),
    ]  # fmt: skip
    if client.startswith("key:"):
        key_id = "key:" + client.split(":")[1]
        windows.append(Window("key", _send_key("key", key_id), s.OTP_SEND_LIMIT_PER_KEY, 3600))
    if not is_key_identity(client):  # an address, or an end user named by a key
        windows.append(Window("ip", _send_key("ip", client), s.OTP_SEND_LIMIT_PER_IP, s.OTP_SEND_IP_WINDOW_SECONDS))
    if channel == "sms":
        windows.append(_sms_budget(tenant_id))
    return windows


def _sms_budget(tenant_id: str) -> Window:
    """Paid SMS per hour: anonymous traffic (the default tenant) and each tenant have their own."""
    anonymous = tenant_id == settings.OTP_DEFAULT_TENANT
    limit = settings.SMS_ANONYMOUS_HOURLY_BUDGET if anonymous else settings.SMS_TENANT_HOURLY_BUDGET
    return Window("sms_budget", _send_key("sms", "budget", tenant_id), limit, 3600)


def check_sms_destination(phone_e164: str) -> None:
    """Refuse an SMS to a country outside SMS_ALLOWED_COUNTRIES, or to a number of a type that
    cannot receive an OTP by SMS there (SMS_ALLOWED_NUMBER_TYPES, per country in
    SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY): premium-rate, shared-cost, toll-free, VoIP, fixed lines...

    Raises DestinationRefused with a message fit for a 400 field error on "phone".
    """
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException as err:
        raise DestinationRefused("Enter a valid phone number in international format.", region=None) from err
    region = phonenumbers.region_code_for_number(number)
    if region not in settings.SMS_ALLOWED_COUNTRIES:
        raise DestinationRefused("Text messages cannot be sent to numbers in this country.", region=region)
    allowed = settings.SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY.get(region or "", settings.SMS_ALLOWED_NUMBER_TYPES)
    number_type = phonenumbers.number_type(number)
    if not any(number_type == getattr(phonenumbers.PhoneNumberType, name) for name in allowed):
        raise DestinationRefused("Text messages can only be sent to mobile numbers.", region=region)


# --- Helpers --------------------------------------------------------------------------------


def _send_key(*parts: str) -> str:
    # One Redis Cluster slot for every key of the send script, the pumping guard's included.
    return slotted_key(pumping.SLOT, *parts)


def recipient_digest(value: str) -> str:
    """A keyed hash of a recipient, so Redis never holds an address or a number in clear."""
    key = f"limits:{settings.OTP_HMAC_KEY}".encode()
    return hmac.new(key, _normalise_recipient(value).encode(), hashlib.sha256).hexdigest()[:32]


def _normalise_recipient(value: str) -> str:
    # Case, a +tag or another spelling of the domain must not buy a fresh allowance.
    return canonical_recipient(value)


def seconds_from_ms(milliseconds: Any) -> int:
    return max(1, math.ceil(int(milliseconds) / 1000))
