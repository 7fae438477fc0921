"""RabbitMQ quorum queues (CELERY_QUEUE_TYPE=quorum) on the local RabbitMQ, in a vhost of the test's own.

Every queue of the service is a quorum queue with a delivery limit and a dead-letter exchange; a
countdown waits in the broker (native delayed delivery); and a message that kills its worker
every time is dead-lettered, never dropped, while the other users' codes arrive and the code of
the dead-lettered task is still delivered by the recovery sweep once its fault is gone.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from kombu import Connection

from otpsite.processes import celery_worker_command
from tests.conftest import ROOT
from tests.helpers import wait_for
from tests.workers.chaos_stack import report
from tests.workers.rabbitmq import amqp_url, private_vhost, queues

pytestmark = [pytest.mark.integration, pytest.mark.scale]


@pytest.fixture
def rabbitmq_vhost() -> Iterator[str]:
    yield from private_vhost()


SERVICE_QUEUES = ("delivery", "receipts", "sweeps", "retention", "callbacks")
LIMIT = 2  # the test's delivery limit (production: 20, as RabbitMQ 4's default)

PUBLISH_WITH_COUNTDOWN = """
import django
django.setup()
from django.utils import timezone
from otp.lifecycle import CodeRequest, issue_code
from otp.tasks import deliver_otp
request = CodeRequest(tenant_id="default", recipient="{recipient}", channel="email", purpose="login")
later = lambda otp_id: deliver_otp.apply_async((otp_id,), countdown={countdown})
issue_code(request, now=timezone.now(), enqueue=later)
"""

# What /metrics reports as messaging_queue_depth, read by the web's own collector.
QUEUE_DEPTH = """
import django
django.setup()
from observability.collectors import queue_metrics
[family] = queue_metrics()
print({sample.labels["queue"]: int(sample.value) for sample in family.samples})
"""


def run_in_stack(stack, script: str) -> str:
    """A Python script run with the stack's environment; what it printed."""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def queue_depth(stack) -> dict[str, int]:
    return ast.literal_eval(run_in_stack(stack, QUEUE_DEPTH).strip())


def publish_with_countdown(stack, recipient: str, countdown: float) -> None:
    run_in_stack(stack, PUBLISH_WITH_COUNTDOWN.format(recipient=recipient, countdown=countdown))


def quorum(stack, vhost: str) -> None:
    stack.env.update(
        CELERY_BROKER_URL=amqp_url(vhost), CELERY_QUEUE_TYPE="quorum", CELERY_QUEUE_DELIVERY_LIMIT=str(LIMIT)
    )


def delayed_messages(vhost: str) -> int:
    return sum(int(q["messages"]) for name, q in queues(vhost).items() if name.startswith("celery_delayed_"))


def test_every_queue_is_a_quorum_queue_and_a_countdown_waits_in_the_broker(chaos_stack, rabbitmq_vhost):
    stack = chaos_stack
    quorum(stack, rabbitmq_vhost)
    stack.start_web()
    stack.start_worker()

    declared = queues(rabbitmq_vhost)
    for name in SERVICE_QUEUES:
        assert declared[name]["type"] == "quorum", (name, declared[name])
        arguments = declared[name]["arguments"]
        assert f'{{"x-delivery-limit",{LIMIT}}}' in arguments, arguments
        assert '{"x-dead-letter-exchange","dead-letter"}' in arguments, arguments
        assert '{"x-dead-letter-strategy","at-least-once"}' in arguments, arguments
    assert declared["dead-letter"]["type"] == "quorum"

    recipients = [f"quorum{i}@example.com" for i in range(3)]
    assert [stack.send(to) for to in recipients] == [202] * 3
    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=60, what="every code to arrive")
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * 3

    # A delivery published with a countdown waits in RabbitMQ's delayed queues, not in the worker.
    started = time.monotonic()
    publish_with_countdown(stack, "later@example.com", 6)
    wait_for(lambda: delayed_messages(rabbitmq_vhost) == 1, timeout=5, what="the message in a delayed queue")
    wait_for(lambda: "later@example.com" in stack.sink.per_recipient, timeout=60, what="the delayed code")
    assert time.monotonic() - started >= 5  # 6 s countdown, counted in whole seconds by the broker
    # (RabbitMQ's counts lag a few seconds behind.)
    wait_for(lambda: delayed_messages(rabbitmq_vhost) == 0, timeout=30, what="the delayed queues empty")
    later = stack.sink.codes_by_recipient()["later@example.com"]
    assert stack.verify("later@example.com", later) == 200

    # Under a second (a database retry's first wait is 0.5 s): sent as one second, not refused.
    publish_with_countdown(stack, "soon@example.com", 0.4)
    wait_for(lambda: "soon@example.com" in stack.sink.per_recipient, timeout=60, what="the code sent with 0.4 s")


@pytest.mark.parametrize(
    ("env", "refusal"),
    [
        ({"CELERY_QUEUE_TYPE": "quorum"}, "CELERY_QUEUE_TYPE=quorum needs RabbitMQ"),
        ({"CELERY_QUEUE_TYPE": "lazy"}, "CELERY_QUEUE_TYPE must be classic or quorum"),
        ({"CELERY_BROKER_URL": "amqp://h//", "CELERY_QUEUE_DELIVERY_LIMIT": "0"}, "DELIVERY_LIMIT must be at least 1"),
    ],
)
def test_start_up_refuses_queue_settings_that_cannot_work(env, refusal):
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "otpsite.settings", "CELERY_BROKER_URL": "redis://h/0", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0 and refusal in result.stderr, result.stderr[-500:]


def dead_lettered(vhost: str) -> list[dict]:
    """The headers of the messages in the dead-letter queue (read and put back)."""
    headers = []
    with Connection(amqp_url(vhost)) as connection:
        channel = connection.default_channel
        taken = []
        while (message := channel.basic_get("dead-letter", no_ack=False)) is not None:
            headers.append(dict(message.properties.get("application_headers") or {}))
            taken.append(message.delivery_tag)
        for tag in taken:
            channel.basic_reject(tag, requeue=True)
    return headers


def start_crashing_worker(stack):
    """A worker with the crash hook loaded (tests/workers/crash_hook.py)."""
    hostname = f"crashing-{uuid.uuid4().hex[:6]}@localhost"
    options = ["--without-gossip", "--without-mingle", "-I", "tests.workers.crash_hook"]
    worker = stack._spawn("worker", celery_worker_command(hostname=hostname, options=options))
    wait_for(
        lambda: f"{hostname} ready." in worker.output() or worker.popen.poll() is not None,
        timeout=60,
        what="the worker to be ready",
    )
    return worker


def test_a_task_that_kills_its_worker_every_time_is_dead_lettered_and_its_code_still_arrives(
    chaos_stack, rabbitmq_vhost, tmp_path
):
    stack = chaos_stack
    quorum(stack, rabbitmq_vhost)
    marker = tmp_path / "crash"
    marker.touch()
    stack.env.update(
        OTPSVC_TEST_CRASH_RECIPIENT="poison@example.com",
        OTPSVC_TEST_CRASH_MARKER=str(marker),
        CELERY_WORKER_CONCURRENCY="1",  # one delivery at a time: the others wait behind the poisoned one
    )
    stack.start_web()  # no beat yet: the broker alone decides what happens to the message
    workers = [start_crashing_worker(stack)]
    others = [f"bystander{i}@example.com" for i in range(4)]
    started = time.monotonic()
    assert stack.send("poison@example.com") == 202
    assert [stack.send(to) for to in others] == [202] * 4

    def restart_the_dead_worker_or_read_the_dead_letters() -> list[dict]:
        if workers[-1].popen.poll() is not None:
            assert workers[-1].popen.returncode == 9, workers[-1].output()
            workers.append(start_crashing_worker(stack))
        return dead_lettered(rabbitmq_vhost)

    [headers] = wait_for(restart_the_dead_worker_or_read_the_dead_letters, timeout=240, what="a dead letter")
    assert headers["task"] == "workers.tasks.deliver_otp"
    [death] = headers["x-death"]
    assert death["queue"] == "delivery" and death["reason"] == "delivery_limit", death

    # Taken and lost LIMIT + 1 times (the first delivery and LIMIT returns), then dead-lettered. The
    # broker acts on the dropped connection; the last crashed worker's exit may come a moment later.
    def crashes() -> int:
        return sum(worker.popen.poll() == 9 for worker in workers)

    wait_for(lambda: crashes() == LIMIT + 1, timeout=30, what=f"{LIMIT + 1} crashed workers")
    if workers[-1].popen.poll() is not None:
        workers.append(start_crashing_worker(stack))

    # The other users' codes, queued behind it, arrive; the poisoned code does not, yet.
    wait_for(lambda: set(others) <= set(stack.sink.per_recipient), timeout=60, what="the other users' codes")
    assert "poison@example.com" not in stack.sink.per_recipient
    assert stack.log_statuses() == {"sent": 4, "queued": 1}  # still owed, in the database
    # /metrics shows it (alert MessagesDeadLettered in deploy/prometheus/alerts.yml).
    depth = queue_depth(stack)
    assert (depth["dead-letter"], depth["delivery"]) == (1, 0), depth
    dead_lettered_after = time.monotonic() - started

    # The fault goes away (a fix is deployed) and beat runs: the recovery sweep, which reads what is
    # owed from the database, publishes the code's delivery again, and it arrives once.
    marker.unlink()
    stack.start_beat()
    wait_for(lambda: "poison@example.com" in stack.sink.per_recipient, timeout=90, what="the poisoned code")
    report(
        "quorum queue, a task killing its worker each time",
        time.monotonic() - started,
        crashes=crashes(),
        dead_lettered_after=f"{dead_lettered_after:.1f}s",
        codes=5,
        lost=0,
    )
    codes = stack.sink.codes_by_recipient()
    everyone = [*others, "poison@example.com"]
    assert [stack.verify(to, codes[to]) for to in everyone] == [200] * 5
    assert stack.sink.per_recipient == dict.fromkeys(everyone, 1)
    assert crashes() == LIMIT + 1  # the message went round no more than its limit
    # The dead letter stays for an operator to read (README, "Brokers").
    assert queues(rabbitmq_vhost)["dead-letter"]["messages"] == "1"
