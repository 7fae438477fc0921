"""The broker loses messages, or never gets them: the sweep on beat still delivers every code."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.helpers import missing_tool, wait_for
from tests.workers.chaos_stack import report
from tests.workers.test_broker_outage import PrivateRedis

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

# The web process's part of a send, cut off between its commit and its publish: the rows are
# committed, then the process dies (os._exit) instead of publishing the task.
DIE_BETWEEN_COMMIT_AND_PUBLISH = """
import os, django
django.setup()
from django.utils import timezone
from otp.lifecycle import CodeRequest, issue_code
request = CodeRequest(tenant_id="default", recipient="{recipient}", channel="email", purpose="login")
issue_code(request, now=timezone.now(), enqueue=lambda otp_id: os._exit(9))
"""


def test_redis_killed_and_restarted_empty_with_codes_queued_loses_no_code(chaos_stack):
    stack = chaos_stack
    stack.sink.hold_after = 0  # the worker is caught in the first sends; the rest wait in Redis
    stack.start_web()
    stack.start_beat()
    stack.start_worker()
    recipients = [f"queued{i}@example.com" for i in range(10)]
    assert [stack.send(to) for to in recipients] == [202] * 10
    wait_for(lambda: stack.sink.held >= 2, timeout=60, what="two sends held in SMTP DATA")

    assert stack.redis.process is not None
    stack.redis.process.kill()  # no persistence: it comes back empty
    stack.redis.process.wait()
    stack.redis.start()
    restarted = time.monotonic()
    stack.sink.release()

    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=60, what="every code to arrive")
    recovery = time.monotonic() - restarted
    duplicates = sum(count - 1 for count in stack.sink.per_recipient.values())
    report("Redis killed, restarted empty", recovery, codes=10, lost=0, duplicates=duplicates)
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * 10
    assert duplicates == 0


def test_a_web_process_killed_between_commit_and_publish_still_gets_its_code_delivered(chaos_stack):
    stack = chaos_stack
    stack.start_web()
    stack.start_beat()
    stack.start_worker()
    recipient = "cut-off@example.com"

    died = subprocess.run(
        [sys.executable, "-c", DIE_BETWEEN_COMMIT_AND_PUBLISH.format(recipient=recipient)],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        timeout=60,
    )
    assert died.returncode == 9, died.stderr.decode()
    assert stack.log_statuses() == {"queued": 1}
    started = time.monotonic()

    wait_for(lambda: recipient in stack.sink.per_recipient, timeout=60, what="the code to arrive")
    report("web killed between commit and publish", time.monotonic() - started, codes=1, lost=0)
    assert stack.verify(recipient, stack.sink.codes_by_recipient()[recipient]) == 200
    assert stack.sink.per_recipient == {recipient: 1}


def _rabbitmq_vhost() -> str:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=1).close()
    except OSError:
        missing_tool("RabbitMQ is not answering on 127.0.0.1:5672")
    vhost = f"otpsvc-test-{os.environ.get('OTPSVC_TEST_RUN_ID', 'run')}-{time.monotonic_ns() % 10**6}"
    for command in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
        result = subprocess.run(["rabbitmqctl", "-q", *command], capture_output=True, timeout=60)
        if result.returncode != 0:
            missing_tool(f"cannot make a RabbitMQ vhost of this test's own: {result.stderr.decode()[:200]}")
    return vhost


@pytest.fixture
def rabbitmq_vhost():
    vhost = _rabbitmq_vhost()
    yield vhost
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)


def test_send_and_verify_end_to_end_with_rabbitmq_as_the_broker(chaos_stack, rabbitmq_vhost):
    stack = chaos_stack
    stack.env["CELERY_BROKER_URL"] = f"amqp://guest:guest@127.0.0.1:5672/{rabbitmq_vhost}"
    stack.start_web()
    stack.start_beat()
    worker = stack.start_worker()
    recipients = [f"rabbit{i}@example.com" for i in range(5)]

    started = time.monotonic()
    assert [stack.send(to) for to in recipients] == [202] * 5
    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=60, what="every code to arrive")
    report("RabbitMQ end to end (5 codes)", time.monotonic() - started, codes=5, lost=0)

    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * 5
    assert "amqp://guest:**@127.0.0.1:5672/" in worker.output()
    queues = subprocess.run(
        ["rabbitmqctl", "-q", "list_queues", "-p", rabbitmq_vhost, "name", "durable"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert all(f"{queue}\ttrue" in queues for queue in ("delivery", "receipts", "sweeps", "retention")), queues
    config = subprocess.run(
        [sys.executable, "-c", "import celeryconfig; print(celeryconfig.broker_transport_options)"],
        cwd=ROOT,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "'confirm_publish': True" in config


def test_a_broker_that_refuses_the_publish_gets_a_503_and_a_failed_log_never_a_silent_202(chaos_stack, tmp_path):
    stack = chaos_stack
    broker = PrivateRedis(tmp_path / "broker")
    (tmp_path / "broker").mkdir()
    broker.start()
    stack.env["CELERY_BROKER_URL"] = broker.url
    stack.start_web()
    broker.stop()  # limits (REDIS_URL) still answer; only the publish fails

    status, body, seconds = stack.post("/api/v1/auth/otp/send", {"email": "refused@example.com", "purpose": "login"})

    assert (status, body) == (503, {"detail": "The service is temporarily unavailable. Try again shortly."})
    assert seconds < 3
    [(log_status, error)] = stack.postgres.execute(
        "SELECT status, error_message FROM communication_logs", stack.database
    )
    assert log_status == "failed" and error.startswith("could not enqueue delivery")
