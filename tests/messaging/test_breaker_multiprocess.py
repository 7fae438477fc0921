"""The shared breaker across real processes (spawned, each with its own Django), and in the failover loop.

Child entry points import Django only after django.setup(), so this module stays importable by a
freshly spawned interpreter. Time is set, never slept through: an open period is ended by
rewriting the breaker's hash in Redis; the trial slot's TTL is awaited by polling the key.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.processes import wait_for

PROVIDER = "ses"
SPAWN = multiprocessing.get_context("spawn")
TIMEOUT = 60.0


def child_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()


def child_records_failures(env: dict[str, str], count: int, barrier: Any, results: Any) -> None:
    child_setup(env)
    from messaging.breaker import breaker_for

    breaker = breaker_for(PROVIDER)
    barrier.wait()
    for _ in range(count):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit, "503 from the stand-in")
    barrier.wait()  # every process has recorded its share
    results.put({"pid": os.getpid(), "refused": breaker.acquire() is None, "state": breaker.snapshot().state})


def child_races_for_the_trial(env: dict[str, str], rounds: int, callers: int, barrier: Any, results: Any) -> None:
    """Each round: `callers` threads acquire at once; a permit holder calls the stand-in, then records."""
    child_setup(env)
    from messaging.breaker import breaker_for
    from otpsite.redis import get_redis

    breaker, standin_calls = breaker_for(PROVIDER), get_redis()
    start_together = threading.Barrier(callers)

    def acquire(_: int) -> Any:
        start_together.wait(timeout=TIMEOUT)
        return breaker.acquire()

    with ThreadPoolExecutor(max_workers=callers) as pool:
        for round_number in range(rounds):
            barrier.wait()  # the parent has ended the open period
            granted = [permit for permit in pool.map(acquire, range(callers)) if permit is not None]
            for _ in granted:
                standin_calls.incr(f"standin:calls:{round_number}")
            results.put(len(granted))
            barrier.wait()  # every caller in every process has had its answer
            for permit in granted:
                breaker.record_success(permit)
            barrier.wait()


def child_holds_the_trial_forever(env: dict[str, str], results: Any) -> None:
    child_setup(env)
    from messaging.breaker import breaker_for

    permit = breaker_for(PROVIDER).acquire()
    results.put(permit.trial_token if permit else "")
    threading.Event().wait()  # until SIGKILL


# --- Helpers for the parent ---------------------------------------------------------------


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = TIMEOUT) -> None:
    """tests.processes.wait_for, polled every 10 ms (a breaker's timings are short)."""
    wait_for(condition, what=what, timeout=timeout, every=0.01)


def child_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    return {"REDIS_URL": settings.REDIS_URL, "CELERY_BROKER_URL": settings.CELERY_BROKER_URL, **extra}


def end_open_period_in_redis() -> None:
    """The state a breaker is in when its open period has just run out."""
    from messaging.breaker_store import RedisStore
    from otpsite.redis import get_redis

    state_key, trial_key = RedisStore.keys(PROVIDER)
    client = get_redis()
    client.delete(trial_key)
    client.hset(state_key, mapping={"state": "open", "failures": 5, "successes": 0, "opened_at": 1, "open_until": 1})


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    started: list[Any] = []
    yield started
    for process in started:
        if process.is_alive():
            process.kill()
        process.join(timeout=TIMEOUT)


def start(processes: list[Any], target: Callable[..., None], *args: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, daemon=True)
    process.start()
    processes.append(process)
    return process


# --- Across processes ---------------------------------------------------------------------


def test_five_failures_from_three_processes_open_the_breaker_for_all_of_them(processes: list[Any]) -> None:
    from messaging.breaker import breaker_for

    barrier, results = SPAWN.Barrier(3, timeout=TIMEOUT), SPAWN.Queue()
    for count in (2, 2, 1):
        start(processes, child_records_failures, child_env(), count, barrier, results)
    answers = [results.get(timeout=TIMEOUT) for _ in range(3)]
    assert len({a["pid"] for a in answers}) == 3
    assert all(a["refused"] and a["state"] == "open" for a in answers)
    snapshot = breaker_for(PROVIDER).snapshot()
    assert (snapshot.state, snapshot.failure_count) == ("open", 5)


def test_fifty_concurrent_callers_in_four_processes_make_exactly_one_trial_call_twenty_times(
    processes: list[Any],
) -> None:
    from messaging.breaker import breaker_for
    from otpsite.redis import get_redis

    rounds, callers_per_process = 20, (13, 13, 12, 12)
    barrier, results = SPAWN.Barrier(len(callers_per_process) + 1, timeout=TIMEOUT), SPAWN.Queue()
    for callers in callers_per_process:
        start(processes, child_races_for_the_trial, child_env(), rounds, callers, barrier, results)
    for round_number in range(rounds):
        end_open_period_in_redis()
        barrier.wait()
        permits = [results.get(timeout=TIMEOUT) for _ in callers_per_process]
        barrier.wait()
        assert sum(permits) == 1, f"round {round_number}: {permits} permits"
        assert get_redis().get(f"standin:calls:{round_number}") == "1"
        barrier.wait()
        snapshot = breaker_for(PROVIDER).snapshot()
        assert (snapshot.state, snapshot.success_count) == ("half_open", 1)


def test_a_process_killed_holding_the_trial_does_not_wedge_the_breaker(processes: list[Any]) -> None:
    from messaging.breaker import breaker_for
    from messaging.breaker_store import RedisStore
    from otpsite.redis import get_redis

    end_open_period_in_redis()
    results = SPAWN.Queue()
    # Short provider timeouts in the child give its trial slot a short TTL (timeouts + 1 s margin).
    env = child_env(PROVIDER_CONNECT_TIMEOUT="0.2", PROVIDER_READ_TIMEOUT="0.3")
    holder = start(processes, child_holds_the_trial_forever, env, results)
    assert results.get(timeout=TIMEOUT), "the child was not admitted as the trial"
    trial_key = RedisStore.keys(PROVIDER)[1]
    assert 0 < get_redis().pttl(trial_key) <= 1500
    breaker = breaker_for(PROVIDER)
    assert breaker.acquire() is None

    os.kill(holder.pid, signal.SIGKILL)
    holder.join(timeout=TIMEOUT)
    assert holder.exitcode == -signal.SIGKILL
    wait_until(lambda: not get_redis().exists(trial_key), what="the dead holder's trial slot to expire")

    permit = breaker.acquire()
    assert permit is not None and permit.trial_token
    breaker.record_success(permit)
    assert breaker.snapshot().success_count == 1


# --- In the failover loop -----------------------------------------------------------------


class CountingSESStandIn(BaseHTTPRequestHandler):
    """Answers every SES request with 503, counting them."""

    requests: list[str]

    def do_POST(self) -> None:
        self.requests.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"message": "stand-in is down"}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("x-amzn-ErrorType", "ServiceUnavailable")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def failing_ses(settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    requests: list[str] = []
    handler = type("Handler", (CountingSESStandIn,), {"requests": requests})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.AWS_REGION = "us-east-1"
    settings.AWS_ENDPOINT_URL = f"http://127.0.0.1:{server.server_address[1]}"
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses", "smtp"]
    yield requests
    server.shutdown()
    server.server_close()


def send_one() -> dict[str, Any]:
    from messaging.service import UnifiedMessagingService

    return UnifiedMessagingService().send_email("jane@example.com", "Your code", "", "Your code is 123456")


@pytest.mark.django_db
def test_while_the_breaker_is_open_sends_skip_the_provider_and_go_to_the_next(failing_ses, smtp_sink) -> None:
    from messaging.models import DeliveryAttempt

    for sent in range(1, 6):
        assert send_one()["provider"] == "smtp"
        assert len(failing_ses) == sent
    for _ in range(3):
        result = send_one()
        assert (result["success"], result["provider"]) == (True, "smtp")
    assert len(failing_ses) == 5, "the open breaker let a call through"
    last = DeliveryAttempt.objects.filter(log__message_id=result["message_id"])
    assert [(a.provider, a.outcome) for a in last] == [("ses", "skipped_breaker_open"), ("smtp", "sent")]
    assert len(smtp_sink.wait_for(8)) == 8


@pytest.mark.django_db
def test_sends_go_through_on_the_process_breaker_while_redis_is_unreachable(
    settings, smtp_sink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from messaging import breaker as breaker_module
    from messaging.breaker import breaker_for
    from messaging.breaker_store import LocalStore

    monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
    monkeypatch.setattr(breaker_module, "_redis_down_until", {})
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    result = send_one()
    assert (result["success"], result["provider"]) == (True, "smtp")
    assert len(smtp_sink.wait_for(1)) == 1
    assert breaker_for("smtp").snapshot().store == "local"
