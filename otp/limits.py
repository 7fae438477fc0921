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
import ipaddress
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

from messaging.masking import log_event
from otp.canonical import canonical_recipient
from otpsite.redis import get_redis, redis_key

logger = logging.getLogger(__name__)

T = TypeVar("T")

# IPv6 clients are counted per /64: one subscriber usually holds a whole /64.
_IPV6_PREFIX = 64


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


# --- Lua ------------------------------------------------------------------------------------

_NOW_MS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

# KEYS[1] cooldown key, KEYS[2] prefix-block counter (hash: day number -> count), KEYS[3..] windows.
# ARGV[1] member, ARGV[2] cooldown ms, ARGV[3] index in KEYS of the prefix window (0: none),
# then for each window: limit, window ms, scope.
# Returns {allowed 0/1, scope, retry after ms, prefix refused 0/1}; the longest wait names the scope.
_SEND_SCRIPT = (
    _NOW_MS
    + """
local scope, wait, prefix_refused = '', 0, 0
local cooldown = redis.call('PTTL', KEYS[1])
if cooldown > 0 then scope, wait = 'cooldown', cooldown end
for i = 3, #KEYS do
  local a = 4 + (i - 3) * 3
  local limit, window = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    -- Expired sends still in the set only count high: drop them only when they could refuse.
    count = count - redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  end
  if count >= limit then
    local free_at = now + window
    local oldest = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    if oldest[2] then free_at = tonumber(oldest[2]) + window end
    if free_at - now > wait then scope, wait = ARGV[a + 2], free_at - now end
    if i == tonumber(ARGV[3]) then prefix_refused = 1 end
  end
end
if prefix_refused == 1 then
  local day = math.floor(now / 86400000)
  redis.call('HINCRBY', KEYS[2], day, 1)
  redis.call('HDEL', KEYS[2], day - 8)
  redis.call('PEXPIRE', KEYS[2], 8 * 86400000)
end
if scope ~= '' then return {0, scope, wait, prefix_refused} end
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[4 + (i - 3) * 3 + 1])
end
if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], '1', 'PX', ARGV[2]) end
return {1, '', 0, 0}
"""
)

_PREFIX_BLOCKS_TODAY_SCRIPT = (
    _NOW_MS
    + """
return tonumber(redis.call('HGET', KEYS[1], math.floor(now / 86400000)) or '0')
"""
)

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

    Limits: per recipient (any tenant), the resend cooldown, per client IP (IPv6 per /64), per
    tenant, and for SMS the global hourly budget and the daily cap per number prefix. A refusal
    by the prefix cap is logged as a warning and counted (see :func:`prefix_blocks_today`).

    Raises RateLimited (scope and retry_after of the limit that frees last) or LimitsUnavailable.
    """
    digest = recipient_digest(recipient)
    windows = send_windows(
        channel=channel, recipient=recipient, tenant_id=tenant_id, client_ip=client_ip, digest=digest
    )
    prefix_index = next((i + 3 for i, w in enumerate(windows) if w.scope == "sms_prefix"), 0)
    args: list[Any] = [secrets.token_hex(8), settings.OTP_RESEND_COOLDOWN_SECONDS * 1000, prefix_index]
    for window in windows:
        args += [window.limit, window.seconds * 1000, window.scope]
    keys = [_send_key("cooldown", digest), _prefix_blocks_key(), *(w.key for w in windows)]
    allowed, scope, wait_ms, prefix_refused = run_script(_SEND_SCRIPT, keys, args)
    if prefix_refused:
        cap = settings.SMS_PREFIX_DAILY_CAP
        log_event(
            logger, "otp.send.prefix_cap", level=logging.WARNING, prefix=_sms_prefix(recipient), cap=cap, ip=client_ip
        )
    if not allowed:
        raise RateLimited(scope=scope, retry_after=seconds_from_ms(wait_ms))


def send_windows(*, channel: str, recipient: str, digest: str, tenant_id: str, client_ip: str) -> list[Window]:
    """The sliding windows one send is counted against (the cooldown is separate).

    `digest` is the recipient's :func:`recipient_digest`, which the cooldown's key uses too.
    """
    s = settings
    windows = [
        Window("recipient", _send_key("recipient", digest), s.OTP_SEND_LIMIT_PER_RECIPIENT,
               s.OTP_SEND_RECIPIENT_WINDOW_SECONDS),
        Window("ip", _send_key("ip", ip_bucket(client_ip)), s.OTP_SEND_LIMIT_PER_IP, s.OTP_SEND_IP_WINDOW_SECONDS),
        Window("tenant", _send_key("tenant", tenant_id), s.OTP_SEND_LIMIT_PER_TENANT, s.OTP_SEND_TENANT_WINDOW_SECONDS),
    ]  # fmt: skip
    if channel == "sms":
        windows += [
            Window("sms_global", _send_key("sms", "global"), s.SMS_GLOBAL_HOURLY_BUDGET, 3600),
            Window("sms_prefix", _send_key("sms", "prefix", _sms_prefix(recipient)), s.SMS_PREFIX_DAILY_CAP, 86400),
        ]
    return windows


def prefix_blocks_today() -> int:
    """How many sends the per-prefix SMS cap refused since midnight UTC (Redis time)."""
    return int(run_script(_PREFIX_BLOCKS_TODAY_SCRIPT, [_prefix_blocks_key()], []))


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
    return redis_key("send", *parts)


def _prefix_blocks_key() -> str:
    return _send_key("sms", "prefix_blocks")


def recipient_digest(value: str) -> str:
    """A keyed hash of a recipient, so Redis never holds an address or a number in clear."""
    key = f"limits:{settings.OTP_HMAC_KEY}".encode()
    return hmac.new(key, _normalise_recipient(value).encode(), hashlib.sha256).hexdigest()[:32]


def _normalise_recipient(value: str) -> str:
    # Case, a +tag or another spelling of the domain must not buy a fresh allowance.
    return canonical_recipient(value)


def _sms_prefix(phone_e164: str) -> str:
    """The first SMS_PREFIX_DIGITS digits of the number: a block of adjacent numbers."""
    digits = "".join(ch for ch in phone_e164 if ch.isdigit())
    return "+" + digits[: settings.SMS_PREFIX_DIGITS]


def ip_bucket(client_ip: str) -> str:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


def seconds_from_ms(milliseconds: Any) -> int:
    return max(1, math.ceil(int(milliseconds) / 1000))
