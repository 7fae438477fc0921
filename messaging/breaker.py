"""Circuit breakers shared by every worker: CLOSED -> OPEN -> HALF_OPEN -> CLOSED.

The failover loop asks ``breaker_for(name).acquire()`` before each provider call. ``None`` means
the breaker refuses (open, or half open with its one trial already out); otherwise the returned
Permit is settled with exactly one of ``record_success``, ``record_failure`` (a provider fault) or
``release`` (a recipient fault: the breaker is left as it was, and a trial slot is freed).

State lives in Redis (messaging.breaker_store.RedisStore) so every process sees the same breaker,
with one round trip to decide while it is closed (a plain read; otherwise a script follows it) and
at most one to record. A success on a closed breaker that had no recorded failures when the call
was admitted writes nothing. While Redis is unreachable each
process falls back to its own LocalStore with the same rules, and snapshots say so.

Thresholds come from settings at call time: BREAKER_FAILURE_THRESHOLD, BREAKER_RESET_TIMEOUT,
BREAKER_SUCCESS_THRESHOLD; the trial slot outlives PROVIDER_CONNECT_TIMEOUT + PROVIDER_READ_TIMEOUT
by TRIAL_MARGIN_SECONDS.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import redis
from django.conf import settings

from messaging import metrics
from messaging.breaker_store import CLOSED, HALF_OPEN, OPEN, BreakerStore, LocalStore, Policy, RedisStore
from otpsite.logs import log_event
from otpsite.redaction import mask_recipients_in, redact_credentials
from otpsite.redis import get_redis, redis_location

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "BreakerSnapshot", "CircuitBreaker", "Permit", "breaker_for"]

logger = logging.getLogger("messaging.breaker")

TRIAL_MARGIN_SECONDS = 1.0
# After Redis fails, this process uses its local store for this long before trying Redis again.
REDIS_RETRY_SECONDS = 1.0
LAST_ERROR_MAX_CHARS = 300

T = TypeVar("T")


@dataclass(frozen=True)
class Permit:
    """Leave to make one call. ``state`` and ``failures`` are what the breaker held when it admitted it."""

    provider: str
    store: str
    state: str = CLOSED
    failures: int = 0
    trial_token: str = ""


@dataclass(frozen=True)
class BreakerSnapshot:
    provider: str
    state: str
    failure_count: int
    success_count: int
    last_error: str
    opened_at: datetime | None
    next_attempt_at: datetime | None
    #: "redis" when read from the shared store, "local" when Redis was unreachable.
    store: str

    @property
    def shared_store_available(self) -> bool:
        return self.store == "redis"


class CircuitBreaker:
    """One provider's breaker. Never raises because its store is down."""

    def __init__(self, provider: str, *, store: BreakerStore | None = None) -> None:
        self.provider = provider
        # None: the shared Redis store, with this process's local store while Redis is down.
        self._store = store

    def acquire(self) -> Permit | None:
        """A Permit when the call may go, None when the breaker refuses it (one HMGET while closed)."""
        store, decision = self._run(lambda s: s.acquire(self.provider, current_policy))
        if decision.changed_from:
            self._log_change(decision.changed_from, decision.state, store)
        if not decision.allowed:
            return None
        return Permit(self.provider, store.label, decision.state, decision.failures, decision.trial_token)

    def record_success(self, permit: Permit) -> None:
        """A successful call. Writes nothing when it was admitted by a clean closed breaker."""
        if permit.state == CLOSED and permit.failures == 0:
            return
        store, changed_from = self._run(
            lambda s: s.record_success(self.provider, current_policy(), permit.trial_token), permit.store
        )
        self._log_change(changed_from, CLOSED, store)

    def record_failure(self, permit: Permit, error: str) -> None:
        """A provider fault: counts towards opening; a trial failure reopens the breaker."""
        text = sanitise_error(error)
        store, changed_from = self._run(
            lambda s: s.record_failure(self.provider, current_policy(), permit.trial_token, text), permit.store
        )
        self._log_change(changed_from, OPEN, store, error=text)

    def release(self, permit: Permit) -> None:
        """Settle a call that says nothing about the provider (a recipient fault): frees a trial slot."""
        if permit.trial_token:
            self._run(lambda s: s.release(self.provider, permit.trial_token), permit.store)

    def snapshot(self) -> BreakerSnapshot:
        store, stored = self._run(lambda s: s.read(self.provider))
        return BreakerSnapshot(
            provider=self.provider,
            state=stored.state,
            failure_count=stored.failures,
            success_count=stored.successes,
            last_error=sanitise_error(stored.last_error),
            opened_at=from_ms(stored.opened_at_ms) if stored.state != CLOSED else None,
            next_attempt_at=from_ms(stored.open_until_ms) if stored.state == OPEN else None,
            store=store.label,
        )

    def reset(self) -> None:
        """Forget everything: closed, no failures, no trial out."""
        store, _ = self._run(lambda s: s.reset(self.provider))
        log_event(logger, "breaker.reset", provider=self.provider, store=store.label)

    def _run(self, operation: Callable[[BreakerStore], T], label: str = "") -> tuple[BreakerStore, T]:
        """Run on the shared store, or on the local one while Redis is down (or for a local permit)."""
        if self._store is not None:
            return self._store, operation(self._store)
        url = redis_location()
        if label != LocalStore.label and shared_store_may_be_up(url):
            try:
                store = redis_store(url)
                result = operation(store)
            except redis.RedisError as err:
                note_redis_down(err)
            else:
                if _redis_down_until:
                    note_redis_up()
                return store, result
        return _local_store, operation(_local_store)

    def _log_change(self, changed_from: str, to: str, store: BreakerStore, *, error: str = "") -> None:
        if changed_from:
            metrics.breaker_changed(provider_of(self.provider), changed_from, to)
            fields = {"error": error} if error else {}
            log_level = logging.WARNING if to == OPEN else logging.INFO
            log_event(logger, "breaker.state_change", level=log_level, provider=self.provider,
                      from_state=changed_from, to_state=to, store=store.label, **fields)  # fmt: skip


def breaker_for(provider: str) -> CircuitBreaker:
    """The breaker named `provider`: a provider's name (the platform's account at it) or a
    tenant_breaker_name (a tenant's own account at it)."""
    return CircuitBreaker(provider)


def tenant_breaker_name(provider: str, *, tenant: str, credential_id: int) -> str:
    """The breaker of a tenant's own credential at `provider`: apart from the platform's and other tenants'."""
    return f"{provider}@{tenant}#{credential_id}"


def provider_of(breaker_name: str) -> str:
    """The provider a breaker guards (metric labels stay one per provider, never one per tenant)."""
    return breaker_name.split("@", 1)[0]


def current_policy() -> Policy:
    trial_ttl = settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT + TRIAL_MARGIN_SECONDS
    return Policy(
        failure_threshold=int(settings.BREAKER_FAILURE_THRESHOLD),
        success_threshold=int(settings.BREAKER_SUCCESS_THRESHOLD),
        reset_timeout_ms=int(settings.BREAKER_RESET_TIMEOUT * 1000),
        trial_ttl_ms=int(trial_ttl * 1000),
    )


# --- Store selection (per process) ---------------------------------------------------------

_local_store = LocalStore()
_redis_stores: dict[str, RedisStore] = {}
# redis_location() -> monotonic time after which Redis is tried again.
_redis_down_until: dict[str, float] = {}


def redis_store(url: str) -> RedisStore:
    store = _redis_stores.get(url)
    if store is None:
        store = _redis_stores[url] = RedisStore(get_redis())
    return store


def shared_store_may_be_up(url: str) -> bool:
    return time.monotonic() >= _redis_down_until.get(url, 0.0)


def note_redis_down(err: redis.RedisError) -> None:
    url = redis_location()
    if url not in _redis_down_until:
        log_event(logger, "breaker.store_unavailable", level=logging.WARNING, fallback="local",
                  error=type(err).__name__)  # fmt: skip
    _redis_down_until[url] = time.monotonic() + REDIS_RETRY_SECONDS


def note_redis_up() -> None:
    if _redis_down_until.pop(redis_location(), None) is not None:
        log_event(logger, "breaker.store_recovered", store="redis")


# --- Helpers -------------------------------------------------------------------------------


def sanitise_error(error: str) -> str:
    """One line, no credential, recipients masked, at most LAST_ERROR_MAX_CHARS characters."""
    text = redact_credentials(" ".join(str(error).split()))
    return mask_recipients_in(text)[:LAST_ERROR_MAX_CHARS]


def from_ms(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


def all_breakers() -> list[BreakerSnapshot]:
    """A snapshot of every registered provider's breaker, in registry order."""
    from messaging import registry

    return [breaker_for(name).snapshot() for name in registry.names()]


def reset_breaker(provider: str) -> None:
    """Close one provider's breaker (shared store, or local while Redis is down)."""
    breaker_for(provider).reset()
