"""Where circuit breaker state lives: a Redis hash shared by every process, or this process alone.

Both stores keep the same rules (the contract tests in tests/messaging/test_breaker_contract.py
run against each):

- CLOSED admits every call. A failure adds one to the consecutive count; at the failure
  threshold the breaker opens until ``open_until`` (now + reset timeout). A success resets the count.
- OPEN refuses every call until ``open_until``; the first decision after it turns HALF_OPEN.
- HALF_OPEN admits one trial at a time: the trial slot is taken with a token and expires after the
  trial TTL, so a process killed during its trial frees it. A trial success counts towards the
  success threshold (then CLOSED) and frees the slot; a trial failure reopens the breaker.
- Outcomes of calls admitted before the state moved on (no longer the trial holder, or the breaker
  opened meanwhile) change nothing.

Each operation is one step: one Lua script (one round trip, time from ``redis.call('TIME')``) in
Redis, one critical section in-process. The exception is ``acquire`` on a closed breaker, the
path every healthy call takes: one HMGET, which decides alone because admitting a call to a
closed breaker changes nothing. Operations return the state they moved the breaker
*from* ("" when nothing changed) so the caller logs each change exactly once.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, cast

import redis

from otpsite.redis import slotted_key

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass(frozen=True)
class Policy:
    failure_threshold: int
    success_threshold: int
    reset_timeout_ms: int
    trial_ttl_ms: int


@dataclass(frozen=True)
class Decision:
    allowed: bool
    state: str
    failures: int
    #: The token that holds the trial slot when this decision admits a half-open trial, else "".
    trial_token: str = ""
    changed_from: str = ""


#: The policy is read from settings only when a decision needs it (never for a closed breaker).
PolicySource = Callable[[], Policy]


def new_trial_token() -> str:
    return secrets.token_hex(8)


@dataclass
class StoredState:
    state: str = CLOSED
    failures: int = 0
    successes: int = 0
    last_error: str = ""
    opened_at_ms: int = 0
    open_until_ms: int = 0


class BreakerStore(Protocol):
    label: str

    def acquire(self, name: str, policy: PolicySource) -> Decision: ...
    def record_success(self, name: str, policy: Policy, token: str) -> str: ...
    def record_failure(self, name: str, policy: Policy, token: str, error: str) -> str: ...
    def release(self, name: str, token: str) -> None: ...
    def read(self, name: str) -> StoredState: ...
    def reset(self, name: str) -> None: ...


# --- Redis --------------------------------------------------------------------------------

_NOW_MS = "local t = redis.call('TIME') local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: state hash, trial slot. ARGV: trial token, trial TTL (ms).
# Returns {allowed, state, failures, trial, changed_from}.
ACQUIRE_LUA = (
    """
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'open_until')
local state, failures = h[1] or 'closed', tonumber(h[2]) or 0
if state == 'closed' then return {1, state, failures, 0, ''} end
"""
    + _NOW_MS
    + """
local from = ''
if state == 'open' then
  if now < (tonumber(h[3]) or 0) then return {0, state, failures, 0, ''} end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'successes', 0)
  state, from = 'half_open', 'open'
end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, state, failures, 1, from} end
return {0, state, failures, 0, from}
"""
)

# KEYS: state hash, trial slot. ARGV: token ("" when not a trial), success threshold.
SUCCESS_LUA = """
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'successes')
local state = h[1] or 'closed'
if state == 'closed' then
  if (tonumber(h[2]) or 0) > 0 then redis.call('HSET', KEYS[1], 'failures', 0) end
  return ''
end
if state ~= 'half_open' or ARGV[1] == '' or redis.call('GET', KEYS[2]) ~= ARGV[1] then return '' end
redis.call('DEL', KEYS[2])
local successes = (tonumber(h[3]) or 0) + 1
if successes < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'successes', successes)
  return ''
end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'successes', 0, 'open_until', 0)
return 'half_open'
"""

# KEYS: state hash, trial slot. ARGV: token, failure threshold, reset timeout (ms), error text.
FAILURE_LUA = (
    _NOW_MS
    + """
local h = redis.call('HMGET', KEYS[1], 'state', 'failures')
local state, failures = h[1] or 'closed', (tonumber(h[2]) or 0) + 1
if state == 'open' then return '' end
if state == 'half_open' then
  if ARGV[1] == '' or redis.call('GET', KEYS[2]) ~= ARGV[1] then return '' end
  redis.call('DEL', KEYS[2])
elseif failures < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', failures, 'last_error', ARGV[4])
  return ''
end
redis.call('HSET', KEYS[1], 'state', 'open', 'failures', failures, 'successes', 0, 'last_error', ARGV[4],
           'opened_at', now, 'open_until', now + tonumber(ARGV[3]))
return state
"""
)

# KEYS: trial slot. ARGV: token. Frees the slot only if this token still holds it.
RELEASE_LUA = "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end return 0"


class RedisStore:
    """State shared by every process: hash ``<prefix>:{breaker:<name>}``, slot ``...:trial``.

    Every method raises redis.RedisError when Redis cannot be reached; the breaker falls back.
    """

    label = "redis"

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        # Registered once per client: later calls are EVALSHA, reloading only after SCRIPT FLUSH.
        self._acquire = client.register_script(ACQUIRE_LUA)
        self._success = client.register_script(SUCCESS_LUA)
        self._failure = client.register_script(FAILURE_LUA)
        self._release = client.register_script(RELEASE_LUA)

    @staticmethod
    def keys(name: str) -> list[str]:
        # One Redis Cluster slot per provider: its scripts touch its hash and its trial slot together.
        return [slotted_key(f"breaker:{name}"), slotted_key(f"breaker:{name}", "trial")]

    def acquire(self, name: str, policy: PolicySource) -> Decision:
        # A closed breaker only has to be read: a plain HMGET costs Redis a fraction of a script.
        # Any other state needs the script (a second round trip, only while the breaker is not closed).
        state_key = self.keys(name)[0]
        state, failures = cast(list[str | None], self.client.hmget(state_key, ["state", "failures"]))
        if state is None or state == CLOSED:
            return Decision(True, CLOSED, int(failures or 0))
        token = new_trial_token()
        allowed, state, failures, trial, changed_from = self._acquire(self.keys(name), [token, policy().trial_ttl_ms])
        return Decision(bool(allowed), str(state), int(failures), token if trial else "", str(changed_from))

    def record_success(self, name: str, policy: Policy, token: str) -> str:
        return str(self._success(self.keys(name), [token, policy.success_threshold]))

    def record_failure(self, name: str, policy: Policy, token: str, error: str) -> str:
        args: list[str | int] = [token, policy.failure_threshold, policy.reset_timeout_ms, error]
        return str(self._failure(self.keys(name), args))

    def release(self, name: str, token: str) -> None:
        self._release(self.keys(name)[1:], [token])

    def read(self, name: str) -> StoredState:
        h = cast(dict[str, str], self.client.hgetall(self.keys(name)[0]))
        return StoredState(
            state=h.get("state", CLOSED),
            failures=int(h.get("failures", 0)),
            successes=int(h.get("successes", 0)),
            last_error=h.get("last_error", ""),
            opened_at_ms=int(float(h.get("opened_at", 0))),
            open_until_ms=int(float(h.get("open_until", 0))),
        )

    def reset(self, name: str) -> None:
        self.client.delete(*self.keys(name))


# --- This process only -------------------------------------------------------------------


@dataclass
class _Entry(StoredState):
    """A breaker's state in this process, with its trial slot (Redis keeps that in its own key)."""

    trial_token: str = ""
    trial_expires_ms: int = 0


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


class LocalStore:
    """The same rules for one process (threads share it), used while Redis is unreachable."""

    label = "local"

    def __init__(self, clock: Callable[[], int] = wall_clock_ms) -> None:
        self.clock = clock
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def _entry(self, name: str) -> _Entry:
        return self._entries.setdefault(name, _Entry())

    def _holds_trial(self, entry: _Entry, token: str, now: int) -> bool:
        return bool(token) and entry.trial_token == token and now < entry.trial_expires_ms

    def acquire(self, name: str, policy: PolicySource) -> Decision:
        with self._lock:
            entry, now = self._entry(name), self.clock()
            if entry.state == CLOSED:
                return Decision(True, CLOSED, entry.failures)
            changed_from = ""
            if entry.state == OPEN:
                if now < entry.open_until_ms:
                    return Decision(False, OPEN, entry.failures)
                entry.state, entry.successes, changed_from = HALF_OPEN, 0, OPEN
            if entry.trial_token and now < entry.trial_expires_ms:
                return Decision(False, HALF_OPEN, entry.failures, "", changed_from)
            entry.trial_token, entry.trial_expires_ms = new_trial_token(), now + policy().trial_ttl_ms
            return Decision(True, HALF_OPEN, entry.failures, entry.trial_token, changed_from)

    def record_success(self, name: str, policy: Policy, token: str) -> str:
        with self._lock:
            entry = self._entry(name)
            if entry.state == CLOSED:
                entry.failures = 0
                return ""
            if entry.state != HALF_OPEN or not self._holds_trial(entry, token, self.clock()):
                return ""
            entry.trial_token, entry.successes = "", entry.successes + 1
            if entry.successes < policy.success_threshold:
                return ""
            entry.state, entry.failures, entry.successes, entry.open_until_ms = CLOSED, 0, 0, 0
            return HALF_OPEN

    def record_failure(self, name: str, policy: Policy, token: str, error: str) -> str:
        with self._lock:
            entry, now = self._entry(name), self.clock()
            previous = entry.state
            if previous == OPEN:
                return ""
            if previous == HALF_OPEN:
                if not self._holds_trial(entry, token, now):
                    return ""
                entry.trial_token = ""
            elif entry.failures + 1 < policy.failure_threshold:
                entry.failures, entry.last_error = entry.failures + 1, error
                return ""
            entry.state, entry.failures, entry.successes, entry.last_error = OPEN, entry.failures + 1, 0, error
            entry.opened_at_ms, entry.open_until_ms = now, now + policy.reset_timeout_ms
            return previous

    def release(self, name: str, token: str) -> None:
        with self._lock:
            entry = self._entry(name)
            if token and entry.trial_token == token:
                entry.trial_token = ""

    def read(self, name: str) -> StoredState:
        with self._lock:
            e = self._entry(name)
            return StoredState(e.state, e.failures, e.successes, e.last_error, e.opened_at_ms, e.open_until_ms)

    def reset(self, name: str) -> None:
        with self._lock:
            self._entries.pop(name, None)
