"""The breaker's rules, run against both stores: the shared Redis one and the per-process one.

Time is set, never slept through: the Redis store's open period is ended by rewriting the hash's
open_until, its trial slot expired by shortening the key's TTL; the local store gets a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
import redis

from messaging import breaker as breaker_module
from messaging.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker, Permit, breaker_for, current_policy
from messaging.breaker_store import SUCCESS_LUA, BreakerStore, LocalStore, RedisStore
from otpsite.redis import get_redis
from tests.processes import wait_for

PROVIDER = "ses"


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = 10.0) -> None:
    """tests.processes.wait_for, polled every 10 ms (a breaker's timings are short)."""
    wait_for(condition, what=what, timeout=timeout, every=0.01)


class ManualClock:
    def __init__(self) -> None:
        self.now_ms = 1_760_000_000_000

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


class CountingStore:
    """A real store, with a count of the operations the breaker asked of it."""

    def __init__(self, inner: BreakerStore) -> None:
        self.inner = inner
        self.label = inner.label
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return method(*args, **kwargs)

        return counted


@dataclass
class Kit:
    breaker: CircuitBreaker
    store: CountingStore
    end_open_period: Callable[[], None]
    expire_trial: Callable[[], None]
    extra: dict[str, Any] = field(default_factory=dict)

    def fail(self, times: int, error: str = "503 Service Unavailable") -> None:
        for _ in range(times):
            permit = self.breaker.acquire()
            assert permit is not None
            self.breaker.record_failure(permit, error)


def redis_kit() -> Kit:
    client = get_redis()
    state_key, trial_key = RedisStore.keys(PROVIDER)

    def expire_trial() -> None:
        client.pexpire(trial_key, 1)
        wait_until(lambda: not client.exists(trial_key), what="trial slot expired")

    store = CountingStore(RedisStore(client))
    return Kit(
        breaker=CircuitBreaker(PROVIDER, store=store),  # type: ignore[arg-type]
        store=store,
        end_open_period=lambda: client.hset(state_key, "open_until", 0),
        expire_trial=expire_trial,
        extra={"client": client},
    )


def local_kit() -> Kit:
    clock = ManualClock()
    store = CountingStore(LocalStore(clock=clock))
    return Kit(
        breaker=CircuitBreaker(PROVIDER, store=store),  # type: ignore[arg-type]
        store=store,
        end_open_period=lambda: clock.advance(current_policy().reset_timeout_ms),
        expire_trial=lambda: clock.advance(current_policy().trial_ttl_ms),
    )


@pytest.fixture(params=["redis", "local", pytest.param("redis-cluster", marks=pytest.mark.scale)])
def kit(request: pytest.FixtureRequest) -> Kit:
    """The shared store on the run's redis-server and on a 3-master Redis Cluster; the local store."""
    if request.param == "redis-cluster":
        request.getfixturevalue("on_redis_cluster")
    return local_kit() if request.param == "local" else redis_kit()


def open_then_half_open(kit: Kit) -> Permit:
    kit.fail(5)
    kit.end_open_period()
    permit = kit.breaker.acquire()
    assert permit is not None and permit.trial_token
    return permit


# --- CLOSED -> OPEN -----------------------------------------------------------------------


def test_a_closed_breaker_admits_calls_below_the_failure_threshold(kit: Kit) -> None:
    kit.fail(4)
    assert kit.breaker.acquire() is not None
    snapshot = kit.breaker.snapshot()
    assert (snapshot.state, snapshot.failure_count) == (CLOSED, 4)


def test_five_consecutive_failures_open_it_for_the_reset_timeout(kit: Kit) -> None:
    kit.fail(5)
    assert kit.breaker.acquire() is None
    snapshot = kit.breaker.snapshot()
    assert (snapshot.state, snapshot.failure_count) == (OPEN, 5)
    assert snapshot.opened_at is not None and snapshot.next_attempt_at is not None
    assert snapshot.next_attempt_at - snapshot.opened_at == timedelta(seconds=60)


def test_a_success_resets_the_consecutive_failure_count(kit: Kit) -> None:
    kit.fail(4)
    permit = kit.breaker.acquire()
    assert permit is not None
    kit.breaker.record_success(permit)
    assert kit.breaker.snapshot().failure_count == 0
    kit.fail(4)
    assert kit.breaker.snapshot().state == CLOSED
    kit.fail(1)
    assert kit.breaker.snapshot().state == OPEN


def test_an_outcome_admitted_before_it_opened_changes_nothing(kit: Kit) -> None:
    late = kit.breaker.acquire()
    assert late is not None
    kit.fail(5)
    before = kit.breaker.snapshot()
    kit.breaker.record_failure(late, "late timeout")
    kit.breaker.record_success(Permit(PROVIDER, kit.store.label, CLOSED, 3))
    assert kit.breaker.snapshot() == before


# --- OPEN -> HALF_OPEN -> CLOSED / OPEN ---------------------------------------------------


def test_after_the_open_period_it_admits_exactly_one_trial(kit: Kit) -> None:
    open_then_half_open(kit)
    assert [kit.breaker.acquire() for _ in range(10)] == [None] * 10
    assert kit.breaker.snapshot().state == HALF_OPEN


def test_one_trial_success_leaves_it_half_open_and_the_second_closes_it(kit: Kit) -> None:
    kit.breaker.record_success(open_then_half_open(kit))
    snapshot = kit.breaker.snapshot()
    assert (snapshot.state, snapshot.success_count) == (HALF_OPEN, 1)
    second = kit.breaker.acquire()
    assert second is not None and second.trial_token
    kit.breaker.record_success(second)
    snapshot = kit.breaker.snapshot()
    assert (snapshot.state, snapshot.failure_count, snapshot.next_attempt_at) == (CLOSED, 0, None)
    assert all(kit.breaker.acquire() is not None for _ in range(3))


def test_a_trial_failure_reopens_it_for_another_reset_timeout(kit: Kit) -> None:
    kit.fail(5)
    first_opening = kit.breaker.snapshot()
    kit.end_open_period()
    trial = kit.breaker.acquire()
    assert trial is not None
    kit.breaker.record_failure(trial, "still down")
    snapshot = kit.breaker.snapshot()
    assert snapshot.state == OPEN
    assert snapshot.last_error == "still down"
    assert snapshot.next_attempt_at is not None and snapshot.opened_at is not None
    assert snapshot.next_attempt_at - snapshot.opened_at == timedelta(seconds=60)
    assert first_opening.opened_at is not None and snapshot.opened_at >= first_opening.opened_at
    assert snapshot.failure_count == 6
    assert kit.breaker.acquire() is None


def test_a_trial_success_after_a_first_success_and_a_failure_reopens_it(kit: Kit) -> None:
    kit.breaker.record_success(open_then_half_open(kit))
    second = kit.breaker.acquire()
    assert second is not None
    kit.breaker.record_failure(second, "flapping")
    assert kit.breaker.snapshot().state == OPEN


def test_release_frees_the_trial_slot_and_counts_nothing(kit: Kit) -> None:
    kit.breaker.release(open_then_half_open(kit))
    snapshot = kit.breaker.snapshot()
    assert (snapshot.state, snapshot.success_count, snapshot.failure_count) == (HALF_OPEN, 0, 5)
    another = kit.breaker.acquire()
    assert another is not None and another.trial_token


def test_release_on_a_closed_breaker_changes_nothing(kit: Kit) -> None:
    kit.fail(2)
    permit = kit.breaker.acquire()
    assert permit is not None
    kit.breaker.release(permit)
    assert kit.breaker.snapshot().failure_count == 2


def test_an_expired_trial_slot_admits_another_trial_and_ignores_the_late_outcome(kit: Kit) -> None:
    stuck = open_then_half_open(kit)
    kit.expire_trial()
    fresh = kit.breaker.acquire()
    assert fresh is not None and fresh.trial_token and fresh.trial_token != stuck.trial_token
    kit.breaker.record_success(stuck)
    assert kit.breaker.snapshot().success_count == 0
    kit.breaker.record_success(fresh)
    assert kit.breaker.snapshot().success_count == 1


# --- Cost, logging, errors, reset ---------------------------------------------------------


def test_a_healthy_call_on_a_clean_closed_breaker_asks_the_store_once(kit: Kit) -> None:
    permit = kit.breaker.acquire()
    assert permit is not None
    kit.breaker.record_success(permit)
    assert kit.store.calls == ["acquire"]


def test_a_healthy_call_on_a_closed_redis_breaker_is_one_plain_read() -> None:
    sent: list[str] = []

    class RecordingConnection(redis.Connection):
        def send_command(self, *args: Any, **kwargs: Any) -> None:
            sent.append(str(args[0]).upper())
            super().send_command(*args, **kwargs)

    url = get_redis().connection_pool.connection_kwargs
    pool = redis.ConnectionPool(connection_class=RecordingConnection, **url)
    client = redis.Redis(connection_pool=pool)
    breaker = CircuitBreaker(PROVIDER, store=RedisStore(client))
    permit = breaker.acquire()
    assert permit is not None
    breaker.record_failure(permit, "503")
    client.script_load(SUCCESS_LUA)  # as in any process after its first success: no NOSCRIPT retry
    sent.clear()
    for _ in range(3):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_success(permit)
    # Every acquire is one HMGET; only the first success runs a script, to clear the failure.
    assert sent == ["HMGET", "EVALSHA", "HMGET", "HMGET"]
    assert breaker.snapshot().failure_count == 0


def test_a_success_after_failures_is_recorded(kit: Kit) -> None:
    kit.fail(1)
    kit.store.calls.clear()
    permit = kit.breaker.acquire()
    assert permit is not None
    kit.breaker.record_success(permit)
    assert kit.store.calls == ["acquire", "record_success"]


def test_each_state_change_is_logged_once(kit: Kit, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="messaging.breaker")
    kit.fail(5)
    assert kit.breaker.acquire() is None
    kit.end_open_period()
    trial = kit.breaker.acquire()
    assert trial is not None and kit.breaker.acquire() is None
    kit.breaker.record_success(trial)
    second = kit.breaker.acquire()
    assert second is not None
    kit.breaker.record_success(second)
    changes = [r.getMessage() for r in caplog.records if "breaker.state_change" in r.getMessage()]
    assert [c.split("from_state=")[1].split(" store=")[0] for c in changes] == [
        "closed to_state=open",
        "open to_state=half_open",
        "half_open to_state=closed",
    ]


def test_last_error_is_sanitised_and_truncated(kit: Kit, settings) -> None:
    settings.SENDGRID_API_KEY = "SG.abcdefghij.klmnopqrstuvwxyz0123"
    settings.TWILIO_AUTH_TOKEN = "twilio-auth-token-value"
    error = (
        f"401 Unauthorized key={settings.SENDGRID_API_KEY} Authorization: Bearer eyJhbGciOi.abc "
        f"https://AC123:{settings.TWILIO_AUTH_TOKEN}@api.twilio.com\n" + "x" * 1000
    )
    kit.fail(1, error)
    last_error = kit.breaker.snapshot().last_error
    assert last_error.startswith("401 Unauthorized")
    for secret in ("abcdefghij", "twilio-auth-token-value", "eyJhbGciOi", "\n"):
        assert secret not in last_error
    assert len(last_error) <= breaker_module.LAST_ERROR_MAX_CHARS
    if "client" in kit.extra:  # stored already sanitised, not only shown so
        assert "abcdefghij" not in kit.extra["client"].hget(RedisStore.keys(PROVIDER)[0], "last_error")


def test_reset_closes_it_and_forgets_failures(kit: Kit) -> None:
    open_then_half_open(kit)
    kit.breaker.reset()
    snapshot = kit.breaker.snapshot()
    assert (snapshot.state, snapshot.failure_count, snapshot.last_error) == (CLOSED, 0, "")
    assert kit.breaker.acquire() is not None


# --- Redis store only ---------------------------------------------------------------------


def test_the_trial_slot_lives_a_little_longer_than_the_provider_timeout(settings) -> None:
    kit = redis_kit()
    open_then_half_open(kit)
    ttl_ms = kit.extra["client"].pttl(RedisStore.keys(PROVIDER)[1])
    provider_timeout_ms = (settings.PROVIDER_CONNECT_TIMEOUT + settings.PROVIDER_READ_TIMEOUT) * 1000
    assert provider_timeout_ms < ttl_ms <= provider_timeout_ms + breaker_module.TRIAL_MARGIN_SECONDS * 1000


def test_open_times_come_from_the_redis_server_clock() -> None:
    kit = redis_kit()
    kit.fail(5)
    seconds, micros = kit.extra["client"].time()
    server_now_ms = seconds * 1000 + micros // 1000
    opened_at_ms = int(kit.extra["client"].hget(RedisStore.keys(PROVIDER)[0], "opened_at"))
    assert 0 <= server_now_ms - opened_at_ms < 1000


# --- Falling back when Redis is unreachable -----------------------------------------------


def test_it_falls_back_to_the_process_store_when_redis_is_unreachable(
    redis_unreachable: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="messaging.breaker")
    breaker = breaker_for(PROVIDER)
    permit = breaker.acquire()
    assert permit is not None and permit.store == "local"
    breaker.record_success(permit)
    for _ in range(5):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit, "connection refused")
    assert breaker.acquire() is None
    snapshot = breaker.snapshot()
    assert (snapshot.state, snapshot.store, snapshot.shared_store_available) == (OPEN, "local", False)
    breaker.reset()
    assert breaker.acquire() is not None
    unavailable = [r for r in caplog.records if "breaker.store_unavailable" in r.getMessage()]
    assert len(unavailable) == 1


def test_a_permit_from_the_shared_store_is_settled_locally_when_redis_goes_away(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
    monkeypatch.setattr(breaker_module, "_redis_down_until", {})
    breaker = breaker_for(PROVIDER)
    permit = breaker.acquire()
    assert permit is not None and permit.store == "redis"
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    breaker.record_failure(permit, "timed out")
    assert breaker.snapshot().failure_count == 1
    assert breaker.snapshot().store == "local"
