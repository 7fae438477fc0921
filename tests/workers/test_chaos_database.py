"""PostgreSQL stops and starts again: the API answers 503 fast, workers retry, nothing restarts."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.helpers import wait_for
from tests.workers.chaos_stack import report
from tests.workers.test_chaos_broker import DIE_BETWEEN_COMMIT_AND_PUBLISH

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

UNAVAILABLE = {"detail": "The service is temporarily unavailable. Try again shortly."}

PUBLISH = """
import django
django.setup()
from otp.tasks import deliver_otp
deliver_otp.delay("{otp_id}")
"""


def test_postgres_stopped_answers_503_fast_and_everything_recovers_when_it_returns(chaos_stack):
    stack = chaos_stack
    stack.start_web(workers=1)  # one web process, so it surely holds a connection from before
    stack.start_beat()
    worker = stack.start_worker()
    assert stack.send("before@example.com") == 202
    wait_for(lambda: "before@example.com" in stack.sink.per_recipient, timeout=60, what="a code before the outage")
    # A quick restart: the web process's kept connection is dead, and the next request must not fail.
    stack.postgres.stop()
    stack.postgres.start()
    assert stack.send("after-restart@example.com") == 202
    # A code accepted just before the outage whose task a worker takes during it.
    subprocess.run(
        [sys.executable, "-c", DIE_BETWEEN_COMMIT_AND_PUBLISH.format(recipient="in-flight@example.com")],
        cwd=ROOT,
        env=stack.env,
        timeout=60,
    )
    [(otp_id,)] = stack.postgres.execute(
        "SELECT id FROM otp_codes WHERE recipient = 'in-flight@example.com'", stack.database
    )

    stack.postgres.stop()
    send = stack.post("/api/v1/auth/otp/send", {"email": "during@example.com", "purpose": "login"})
    verify = stack.post(
        "/api/v1/auth/otp/verify", {"email": "before@example.com", "purpose": "login", "code": "000000"}
    )
    health = stack.get("/health")
    subprocess.run(
        [sys.executable, "-c", PUBLISH.format(otp_id=otp_id)], cwd=ROOT, env=stack.env, check=True, timeout=60
    )
    wait_for(lambda: "Retry in" in worker.output(), timeout=30, what="the worker to retry the task, not drop it")

    for status, body, seconds in (send, verify):
        assert (status, body) == (503, UNAVAILABLE)
        assert seconds < 2
    assert health[0] == 503 and health[2] < 2
    assert health[1]["checks"]["database"]["ok"] is False
    assert health[1]["checks"]["redis"]["ok"] is True

    stack.postgres.start()
    restarted = time.monotonic()
    recipients = [f"after{i}@example.com" for i in range(5)]
    assert [stack.send(to) for to in recipients] == [202] * 5
    expected = {"before@example.com", "after-restart@example.com", "in-flight@example.com", *recipients}
    wait_for(lambda: set(stack.sink.per_recipient) == expected, timeout=60, what="every code to arrive")
    report(
        "PostgreSQL stopped and started", time.monotonic() - restarted, codes=7, lost=0, answer_503_s=f"{send[2]:.2f}"
    )
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * 5
    assert stack.sink.per_recipient["in-flight@example.com"] == 1
    assert stack.get("/health")[1]["checks"]["database"]["ok"] is True


def test_a_database_that_accepts_connections_and_never_answers_gets_a_503_not_a_hang(chaos_stack, silent_url):
    stack = chaos_stack
    stack.env["DATABASE_URL"] = "postgres://postgres@" + silent_url.removeprefix("http://") + "/otp"
    stack.start_web()

    send = stack.post("/api/v1/auth/otp/send", {"email": "hung@example.com", "purpose": "login"})
    verify = stack.post("/api/v1/auth/otp/verify", {"email": "hung@example.com", "purpose": "login", "code": "123456"})
    health = stack.get("/health")

    # libpq waits at least 2 s for a silent server (DATABASE_CONNECT_TIMEOUT), then gives up.
    for status, body, seconds in (send, verify):
        assert (status, body) == (503, UNAVAILABLE)
        assert seconds < 5  # far below gunicorn's 30 s timeout: no hang
    assert health[0] == 503 and health[2] < 5
    assert health[1]["checks"]["database"]["ok"] is False
