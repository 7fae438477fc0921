"""Cost of a guarded call: messaging.breaker vs pybreaker 1.4.1 + CircuitRedisStorage, same Redis, same run.

Usage (from the repository root; use a Redis database nobody else is using, it is flushed):

    REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python bench/breaker.py [--calls 20000]

Measures, for a closed breaker guarding a no-op:
- guarded calls per second in one thread,
- Redis round trips per call, counted by a connection class that counts every packet it sends
  (a pipeline or a script is one round trip),
- a Redis PING round trip as the baseline,
interleaved in rounds (median reported) so load from other work on the machine hits all alike.
Then, for each breaker whose open period has just ended, how many of 8 processes calling at
the same moment get through (the half-open trial admission).
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django  # noqa: E402

django.setup()

import pybreaker  # noqa: E402
import redis  # noqa: E402
from django.conf import settings  # noqa: E402

from messaging import breaker as breaker_module  # noqa: E402
from messaging.breaker import breaker_for  # noqa: E402
from messaging.breaker_store import RedisStore  # noqa: E402

PROVIDER = "bench"
PROCESSES = 8


class CountingConnection(redis.Connection):
    round_trips = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        CountingConnection.round_trips += 1
        super().send_packed_command(command, check_health)


def counting_client(*, decode: bool) -> redis.Redis:
    pool = redis.ConnectionPool.from_url(
        settings.REDIS_URL, connection_class=CountingConnection, decode_responses=decode, health_check_interval=0
    )
    return redis.Redis(connection_pool=pool)


def noop() -> None:
    return None


def timed(guarded_call: Callable[[], None], calls: int) -> tuple[float, float]:
    """Seconds per call and round trips per call over `calls` calls."""
    CountingConnection.round_trips = 0
    started = time.perf_counter()
    for _ in range(calls):
        guarded_call()
    elapsed = time.perf_counter() - started
    return elapsed / calls, CountingConnection.round_trips / calls


def measure(contenders: dict[str, Callable[[], None]], calls: int, rounds: int) -> list[dict[str, Any]]:
    """Median over `rounds` interleaved rounds, so a noisy neighbour hurts every contender alike."""
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for guarded_call in contenders.values():
        for _ in range(200):  # connect, load scripts, warm caches
            guarded_call()
    for _ in range(rounds):
        for name, guarded_call in contenders.items():
            samples[name].append(timed(guarded_call, calls // rounds))
    rows = []
    for name, runs in samples.items():
        seconds = statistics.median(s for s, _ in runs)
        rows.append({"name": name, "calls_per_s": 1 / seconds, "us_per_call": seconds * 1e6, "round_trips": runs[0][1]})
    return rows


def ours_guarded_call() -> Callable[[], None]:
    # The real path (breaker_for -> shared store with fallback), on a counting client.
    breaker_module._redis_stores[settings.REDIS_URL] = RedisStore(counting_client(decode=True))
    breaker = breaker_for(PROVIDER)

    def call() -> None:
        permit = breaker.acquire()
        if permit is not None:
            noop()
            breaker.record_success(permit)

    return call


def pybreaker_breaker(client: redis.Redis) -> pybreaker.CircuitBreaker:
    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, client, namespace=f"bench-{PROVIDER}")
    return pybreaker.CircuitBreaker(fail_max=5, reset_timeout=60, success_threshold=2, state_storage=storage)


def pybreaker_guarded_call() -> Callable[[], None]:
    breaker = pybreaker_breaker(counting_client(decode=False))
    return lambda: breaker.call(noop)


# --- Half-open admission across processes ---------------------------------------------------


def trial_call(counter_key: str) -> None:
    redis.Redis.from_url(settings.REDIS_URL).incr(counter_key)
    time.sleep(0.05)  # a provider call in flight while the others arrive


def ours_child(barrier: Any) -> None:
    breaker = breaker_for(PROVIDER)
    barrier.wait()
    permit = breaker.acquire()
    if permit is not None:
        trial_call("bench:trials:ours")
        breaker.record_success(permit)


def pybreaker_child(barrier: Any) -> None:
    breaker = pybreaker_breaker(redis.Redis.from_url(settings.REDIS_URL))
    barrier.wait()
    with contextlib.suppress(pybreaker.CircuitBreakerError):
        breaker.call(trial_call, "bench:trials:pybreaker")


def trials_admitted(target: Callable[[Any], None], counter_key: str) -> int:
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(PROCESSES)
    children = [context.Process(target=target, args=(barrier,)) for _ in range(PROCESSES)]
    for child in children:
        child.start()
    for child in children:
        child.join()
    return int(redis.Redis.from_url(settings.REDIS_URL).get(counter_key) or 0)


def set_both_open_period_over(client: redis.Redis) -> None:
    client.delete(*RedisStore.keys(PROVIDER))
    client.hset(RedisStore.keys(PROVIDER)[0], mapping={"state": "open", "failures": 5, "open_until": 1})
    namespace = f"pybreaker:bench-{PROVIDER}"
    client.set(f"{namespace}:state", pybreaker.STATE_OPEN)
    client.set(f"{namespace}:opened_at", int(time.time()) - 3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=30000, help="calls per contender, over all rounds")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    calls, rounds = args.calls, args.rounds
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    client.flushdb()
    ping_client = counting_client(decode=True)

    contenders = {
        "Redis PING (baseline)": ping_client.ping,
        "messaging.breaker (shared; closed: one HMGET)": ours_guarded_call(),
        "pybreaker 1.4.1 + CircuitRedisStorage": pybreaker_guarded_call(),
    }
    rows = measure(contenders, calls, rounds)
    ping_us = rows[0]["us_per_call"]
    version = client.info("server")["redis_version"]
    print(f"Redis {version} at {settings.REDIS_URL}, {calls} calls each in {rounds} rounds (median), one thread")
    print("| what | calls/s | us/call | x PING | Redis round trips/call |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['name']} | {row['calls_per_s']:,.0f} | {row['us_per_call']:.0f} | "
            f"{row['us_per_call'] / ping_us:.2f} | {row['round_trips']:.2f} |"
        )

    set_both_open_period_over(client)
    ours = trials_admitted(ours_child, "bench:trials:ours")
    theirs = trials_admitted(pybreaker_child, "bench:trials:pybreaker")
    print(f"\n{PROCESSES} processes calling at the end of the open period: trial calls admitted")
    print(f"| messaging.breaker | {ours} |\n| pybreaker 1.4.1 + CircuitRedisStorage | {theirs} |")
    client.flushdb()


if __name__ == "__main__":
    main()
