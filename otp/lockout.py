"""The verification lockout and the per-client verify limit, decided in one atomic Redis script.

A wrong guess counts only when a live code exists for the recipient (a stranger guessing at an
address with no code locks nobody out). Every key holds (tenant, recipient, purpose): guesses for
one purpose or through one tenant never touch another. Failures are counted twice:

- per (tenant, recipient, purpose, client): OTP_LOCKOUT_THRESHOLD failures within
  OTP_LOCKOUT_WINDOW_SECONDS lock this client out for OTP_LOCKOUT_BASE_SECONDS, doubling with each
  further lock up to OTP_LOCKOUT_MAX_SECONDS. An attacker's burst locks the attacker, not the owner.
- per (tenant, recipient, purpose), from any client: after OTP_LOCKOUT_RECIPIENT_CAP consecutive
  failures (NIST 800-63B: at most 100), guessing slows down instead of stopping: each client may
  make one guess per OTP_SLOW_GUESS_SECONDS until OTP_LOCKOUT_RECIPIENT_WINDOW_SECONDS pass without
  a failure. The owner's first guess, from their own network, is always admitted, so a stranger
  can never refuse the owner's right code; a stranger gets one guess per address per interval.

The client is otpsite.network.client_identity: an address (IPv6 per /64), or an API key's end user.
Every verify request, live code or not, counts against OTP_VERIFY_LIMIT_PER_IP (an API key without
an end user: OTP_VERIFY_LIMIT_PER_KEY) per OTP_VERIFY_IP_WINDOW_SECONDS. A guess is counted when
it is admitted, before the code is compared, so N parallel wrong guesses are counted exactly N times
and no more than the threshold pass. A success forgets the failures. Redis unreachable:
LimitsUnavailable (fail closed).
"""

from __future__ import annotations

import secrets

from django.conf import settings

from otp.canonical import canonical_recipient
from otp.limits import RateLimited, fail_closed, recipient_digest, run_script, seconds_from_ms
from otpsite.network import ip_bucket, is_key_identity
from otpsite.redis import get_redis, slotted_key

# The admit script's keys mix a client's window with a recipient's counters: one Redis Cluster slot.
_SLOT = "verify"

# KEYS[1] per-client window (sorted set), KEYS[2] per-client lock hash (fails, window_end, locks,
# locked_at), KEYS[3] the recipient's consecutive failures, KEYS[4] the client's slowed-guess mark.
# ARGV[1] lock base ms, ARGV[2] lock max ms, ARGV[3] failure window ms, ARGV[4] threshold, ARGV[5]
# live code 0/1, ARGV[6] request limit, ARGV[7] request window ms, ARGV[8] member, ARGV[9]
# recipient cap, ARGV[10] recipient window ms, ARGV[11] slowed guess interval ms. Returns {scope,
# wait ms}; scope '' means admitted (and, with a live code, already counted as a failure).
_ADMIT_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local base, max, window, threshold = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local ip_limit, ip_window = tonumber(ARGV[6]), tonumber(ARGV[7])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ip_window)
local requests = redis.call('ZCARD', KEYS[1])
if requests >= ip_limit then
  local oldest = redis.call('ZRANGE', KEYS[1], requests - ip_limit, requests - ip_limit, 'WITHSCORES')
  return {'verify_ip', tonumber(oldest[2]) + ip_window - now}
end
redis.call('ZADD', KEYS[1], now, ARGV[8])
redis.call('PEXPIRE', KEYS[1], ip_window)
local h = redis.call('HMGET', KEYS[2], 'fails', 'window_end', 'locks', 'locked_at')
local fails, window_end = tonumber(h[1]) or 0, tonumber(h[2]) or 0
local locks, locked_at = tonumber(h[3]) or 0, tonumber(h[4]) or 0
local function lock_end(n, at)
  if n == 0 then return 0 end
  return at + math.min(base * 2 ^ (n - 1), max)
end
if lock_end(locks, locked_at) > now then return {'verify_lockout', lock_end(locks, locked_at) - now} end
local consecutive = tonumber(redis.call('GET', KEYS[3]) or '0')
local slowed = consecutive >= tonumber(ARGV[9])
if slowed then
  local held = redis.call('PTTL', KEYS[4])
  if held > 0 then return {'verify_slowed', held} end
end
if ARGV[5] == '0' then return {'', 0} end
if slowed then redis.call('SET', KEYS[4], '1', 'PX', ARGV[11]) end
redis.call('SET', KEYS[3], consecutive + 1, 'PX', ARGV[10])
if window_end <= now then fails, window_end = 0, now + window end
fails = fails + 1
if fails >= threshold then
  locks, locked_at, fails, window_end = locks + 1, now, 0, 0
end
redis.call('HSET', KEYS[2], 'fails', fails, 'window_end', window_end, 'locks', locks, 'locked_at', locked_at)
-- The lock count is remembered for one window after the lock ends, so a lock soon after doubles.
local keep = window_end
if locks > 0 then keep = math.max(keep, lock_end(locks, locked_at) + window) end
redis.call('PEXPIRE', KEYS[2], math.max(keep - now, 1))
return {'', 0}
"""


def admit_guess(*, tenant_id: str, recipient: str, purpose: str, client_ip: str, live_code: bool) -> None:
    """Admit one verify request, counting it as a failure if a live code exists; or refuse it.

    `client_ip` is the client's identity (an address, or an API key's end user). The caller
    forgets the failure with :func:`record_success` when the code turns out right.
    Raises RateLimited (scope "verify_ip", "verify_lockout" or "verify_slowed") or LimitsUnavailable.
    """
    s = settings
    client = ip_bucket(client_ip)
    request_limit = s.OTP_VERIFY_LIMIT_PER_KEY if is_key_identity(client) else s.OTP_VERIFY_LIMIT_PER_IP
    args = [
        s.OTP_LOCKOUT_BASE_SECONDS * 1000, s.OTP_LOCKOUT_MAX_SECONDS * 1000, s.OTP_LOCKOUT_WINDOW_SECONDS * 1000,
        s.OTP_LOCKOUT_THRESHOLD, 1 if live_code else 0, request_limit,
        s.OTP_VERIFY_IP_WINDOW_SECONDS * 1000, secrets.token_hex(8), s.OTP_LOCKOUT_RECIPIENT_CAP,
        s.OTP_LOCKOUT_RECIPIENT_WINDOW_SECONDS * 1000, s.OTP_SLOW_GUESS_SECONDS * 1000,
    ]  # fmt: skip
    keys = [slotted_key(_SLOT, "ip", client), *_failure_keys(tenant_id, recipient, purpose, client)]
    scope, wait_ms = run_script(_ADMIT_SCRIPT, keys, args)
    scope = scope.decode() if isinstance(scope, bytes) else scope
    if scope:
        raise RateLimited(scope=scope, retry_after=seconds_from_ms(wait_ms))


def record_success(*, tenant_id: str, recipient: str, purpose: str, client_ip: str) -> None:
    """Forget this client's failures and locks and the recipient's consecutive failures."""
    keys = _failure_keys(tenant_id, recipient, purpose, ip_bucket(client_ip))
    fail_closed(lambda: get_redis().delete(*keys))


def _failure_keys(tenant_id: str, recipient: str, purpose: str, client: str) -> list[str]:
    who = f"{tenant_id}\x00{canonical_recipient(recipient)}\x00{purpose}"
    mine = recipient_digest(f"{who}\x00{client}")
    return [
        slotted_key(_SLOT, "lockout", mine),
        slotted_key(_SLOT, "consecutive", recipient_digest(who)),
        slotted_key(_SLOT, "slowed", mine),
    ]
