"""Atomic send limits, SMS pumping guards and the verification lockout, kept in Redis.

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
from otpsite.redis import get_redis, redis_key

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Number types a pumping ring earns money from; refused even inside an allowed country.
_REVENUE_SHARE_TYPES = frozenset({phonenumbers.PhoneNumberType.PREMIUM_RATE, phonenumbers.PhoneNumberType.SHARED_COST})
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
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
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

# The lockout hash: fails, window_end (ms), locks (how many so far), locked_at (ms). A lock lasts
# base * 2^(locks - 1), at most max; it is computed from the settings when read.
# ARGV[1] base ms, ARGV[2] max ms.
_LOCK_END = """
local h = redis.call('HMGET', KEYS[1], 'fails', 'window_end', 'locks', 'locked_at')
local fails, window_end = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local locks, locked_at = tonumber(h[3]) or 0, tonumber(h[4]) or 0
local function lock_end(n, at)
  if n == 0 then return 0 end
  return at + math.min(tonumber(ARGV[1]) * 2 ^ (n - 1), tonumber(ARGV[2]))
end
"""

# Returns the ms left on the lock, 0 when verification is allowed.
_VERIFY_ALLOWED_SCRIPT = (
    _NOW_MS
    + _LOCK_END
    + """
return math.max(lock_end(locks, locked_at) - now, 0)
"""
)

# ARGV[3] failure window ms, ARGV[4] threshold. A failure while locked changes nothing.
_VERIFY_FAILURE_SCRIPT = (
    _NOW_MS
    + _LOCK_END
    + """
local window, threshold = tonumber(ARGV[3]), tonumber(ARGV[4])
if lock_end(locks, locked_at) > now then return 0 end
if window_end <= now then fails, window_end = 0, now + window end
fails = fails + 1
if fails >= threshold then
  locks, locked_at, fails, window_end = locks + 1, now, 0, 0
end
redis.call('HSET', KEYS[1], 'fails', fails, 'window_end', window_end, 'locks', locks, 'locked_at', locked_at)
-- The lock count is remembered for one window after the lock ends, so a lock soon after doubles.
local keep = window_end
if locks > 0 then keep = math.max(keep, lock_end(locks, locked_at) + window) end
redis.call('PEXPIRE', KEYS[1], math.max(keep - now, 1))
return fails
"""
)

_scripts: dict[str, Script] = {}


def _run_script(source: str, keys: list[str], args: list[Any]) -> Any:
    """Run a script on the process's client (EVALSHA, loading it once); Redis errors fail closed."""
    return _fail_closed(lambda: _script(source)(keys=keys, args=args, client=get_redis()))


def _script(source: str) -> Script:
    script = _scripts.get(source)
    if script is None:
        script = _scripts[source] = get_redis().register_script(source)
    return script


def _fail_closed(call: Callable[[], T]) -> T:
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
    windows = send_windows(channel=channel, recipient=recipient, tenant_id=tenant_id, client_ip=client_ip)
    prefix_index = next((i + 3 for i, w in enumerate(windows) if w.scope == "sms_prefix"), 0)
    args: list[Any] = [secrets.token_hex(8), settings.OTP_RESEND_COOLDOWN_SECONDS * 1000, prefix_index]
    for window in windows:
        args += [window.limit, window.seconds * 1000, window.scope]
    keys = [_send_key("cooldown", _digest(recipient)), _prefix_blocks_key(), *(w.key for w in windows)]
    allowed, scope, wait_ms, prefix_refused = _run_script(_SEND_SCRIPT, keys, args)
    if prefix_refused:
        cap = settings.SMS_PREFIX_DAILY_CAP
        log_event(
            logger, "otp.send.prefix_cap", level=logging.WARNING, prefix=_sms_prefix(recipient), cap=cap, ip=client_ip
        )
    if not allowed:
        raise RateLimited(scope=scope, retry_after=_seconds(wait_ms))


def send_windows(*, channel: str, recipient: str, tenant_id: str, client_ip: str) -> list[Window]:
    """The sliding windows one send is counted against (the cooldown is separate)."""
    s = settings
    windows = [
        Window("recipient", _send_key("recipient", _digest(recipient)), s.OTP_SEND_LIMIT_PER_RECIPIENT,
               s.OTP_SEND_RECIPIENT_WINDOW_SECONDS),
        Window("ip", _send_key("ip", _ip_bucket(client_ip)), s.OTP_SEND_LIMIT_PER_IP, s.OTP_SEND_IP_WINDOW_SECONDS),
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
    return int(_run_script(_PREFIX_BLOCKS_TODAY_SCRIPT, [_prefix_blocks_key()], []))


def check_sms_destination(phone_e164: str) -> None:
    """Refuse an SMS to a country outside SMS_ALLOWED_COUNTRIES, or to a premium-rate number.

    Raises DestinationRefused with a message fit for a 400 field error on "phone".
    """
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException as err:
        raise DestinationRefused("Enter a valid phone number in international format.", region=None) from err
    region = phonenumbers.region_code_for_number(number)
    if region not in settings.SMS_ALLOWED_COUNTRIES:
        raise DestinationRefused("Text messages cannot be sent to numbers in this country.", region=region)
    if phonenumbers.number_type(number) in _REVENUE_SHARE_TYPES:
        raise DestinationRefused("Text messages cannot be sent to premium-rate numbers.", region=region)


# --- Verification lockout -------------------------------------------------------------------


def check_verify_allowed(*, tenant_id: str, recipient: str) -> None:
    """Refuse verification while the recipient is locked out.

    Raises RateLimited(scope="verify_lockout", retry_after=seconds left) or LimitsUnavailable.
    """
    wait_ms = _run_script(_VERIFY_ALLOWED_SCRIPT, [_lockout_key(tenant_id, recipient)], _lock_args())
    if wait_ms > 0:
        raise RateLimited(scope="verify_lockout", retry_after=_seconds(wait_ms))


def record_verify_failure(*, tenant_id: str, recipient: str) -> None:
    """Count one wrong code for the recipient, whichever code it was aimed at.

    OTP_LOCKOUT_THRESHOLD failures within OTP_LOCKOUT_WINDOW_SECONDS lock verification for
    OTP_LOCKOUT_BASE_SECONDS, doubling with each further lock (at most OTP_LOCKOUT_MAX_SECONDS).
    A resend does not reset the count. Raises LimitsUnavailable.
    """
    args = [*_lock_args(), settings.OTP_LOCKOUT_WINDOW_SECONDS * 1000, settings.OTP_LOCKOUT_THRESHOLD]
    _run_script(_VERIFY_FAILURE_SCRIPT, [_lockout_key(tenant_id, recipient)], args)


def record_verify_success(*, tenant_id: str, recipient: str) -> None:
    """Forget the recipient's failures and locks. Raises LimitsUnavailable."""
    key = _lockout_key(tenant_id, recipient)
    _fail_closed(lambda: get_redis().delete(key))


# --- Helpers --------------------------------------------------------------------------------


def _lock_args() -> list[int]:
    return [settings.OTP_LOCKOUT_BASE_SECONDS * 1000, settings.OTP_LOCKOUT_MAX_SECONDS * 1000]


def _lockout_key(tenant_id: str, recipient: str) -> str:
    return redis_key("verify", "lockout", _digest(f"{tenant_id}\x00{_normalise_recipient(recipient)}"))


def _send_key(*parts: str) -> str:
    return redis_key("send", *parts)


def _prefix_blocks_key() -> str:
    return _send_key("sms", "prefix_blocks")


def _digest(value: str) -> str:
    """A keyed hash of a recipient, so Redis never holds an address or a number in clear."""
    key = f"limits:{settings.OTP_HMAC_KEY}".encode()
    return hmac.new(key, _normalise_recipient(value).encode(), hashlib.sha256).hexdigest()[:32]


def _normalise_recipient(value: str) -> str:
    # Case never changes where an email goes, so it must not buy a fresh allowance.
    return value.strip().lower()


def _sms_prefix(phone_e164: str) -> str:
    """The first SMS_PREFIX_DIGITS digits of the number: a block of adjacent numbers."""
    digits = "".join(ch for ch in phone_e164 if ch.isdigit())
    return "+" + digits[: settings.SMS_PREFIX_DIGITS]


def _ip_bucket(client_ip: str) -> str:
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


def _seconds(milliseconds: Any) -> int:
    return max(1, math.ceil(int(milliseconds) / 1000))
