"""Workers killed with -9 on each broker: what comes back on its own, and how soon.

The same stack, burst and kill on Redis (the stack's default) and on RabbitMQ (quorum queues, in a
vhost of the test's own); the RECOVERY lines compare the brokers (README, "Brokers"):

- mid-send (tests/workers/test_chaos_worker.py's kill): the held codes are claimed by the dead
  process. On RabbitMQ its unacknowledged tasks come back when its connection drops, and each
  takes over its claim as soon as the process's liveness key has expired (5 s; otpsite/liveness.py).
  On Redis the tasks sit unacknowledged until the visibility timeout, so the recovery sweep sends
  the codes once the claim lease (40 s) is over;
- while the codes wait for a retry (the SMTP server greylisted each first try for 12 s): on
  RabbitMQ the retries wait in the broker and arrive when due; on Redis they were in the dead
  worker's memory (unacknowledged until the 3600 s visibility timeout) and only the recovery sweep
  brings them back, a grace period (10 s) and a sweep later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.helpers import wait_for
from tests.workers import test_chaos_worker
from tests.workers.chaos_stack import report
from tests.workers.rabbitmq import amqp_url, private_vhost

pytestmark = [pytest.mark.integration, pytest.mark.chaos]

GREYLISTED = "451 4.7.1 Greylisted, try again in 12 seconds"
DUE = 12
CODES = 6
BURST = 16
ALIVE_TTL = 5.0  # WORKER_ALIVE_TTL_SECONDS, the project's default (the stack keeps it)


@pytest.fixture
def rabbitmq_vhost() -> Iterator[str]:
    yield from private_vhost()


def on_rabbitmq(stack, vhost: str) -> None:
    stack.env.update(CELERY_BROKER_URL=amqp_url(vhost), CELERY_QUEUE_TYPE="quorum")


@pytest.mark.soak  # a figure for README's comparison: `make chaos` runs it, `make test` does not
def test_kill_9_of_the_worker_mid_burst_on_rabbitmq_is_recovered_well_within_the_lease(chaos_stack, rabbitmq_vhost):
    on_rabbitmq(chaos_stack, rabbitmq_vhost)
    recovery = test_chaos_worker.kill_9_mid_burst(chaos_stack, "RabbitMQ")
    # The redelivered tasks take the dead process's claims over once its liveness key expired
    # (otpsite/liveness.py), not after the 40 s lease.
    assert recovery < 10


@pytest.mark.soak  # a figure for README's comparison: `make chaos` runs it, `make test` does not
def test_kill_9_of_one_of_two_worker_nodes_mid_burst_on_rabbitmq_the_other_takes_over_at_once(
    chaos_stack, rabbitmq_vhost
):
    """Two worker nodes (process groups of their own); the one whose sends hang is killed. Its tasks
    come back when its connection drops and the other node takes its claims over at once: it runs on
    the same host, so the kernel says the owner's pid is gone (otpsite/same_host.py), with no wait
    for the liveness key (5 s) nor the lease (40 s)."""
    stack, sink = chaos_stack, chaos_stack.sink
    on_rabbitmq(stack, rabbitmq_vhost)
    stack.start_web()
    stack.start_beat()
    with sink.listen() as doomed_port:
        sink.hold_after, sink.hold_port = 0, doomed_port  # every send of the doomed node hangs in DATA
        doomed = stack.start_worker(SMTP_PORT=str(doomed_port))
        stack.start_worker()
        recipients = [f"node{i}@example.com" for i in range(BURST)]
        assert [stack.send(to) for to in recipients] == [202] * BURST
        wait_for(
            lambda: sink.held >= 2 and len(sink.per_recipient) + sink.held == BURST,
            timeout=60,
            what="each code sent by the survivor or held mid-send by the doomed node",
        )
        in_its_hands = list(sink.held_for)
        assert claimed_by_pid(stack) == {doomed.pid: len(in_its_hands)}

        killed = time.monotonic()
        doomed.kill()
        wait_for(sink.held_clients_gone, timeout=10, what="the sink to see the killed node's connections close")
        sink.release()
        wait_for(lambda: set(sink.per_recipient) == set(recipients), timeout=120, what="every code to arrive")

    last = max(sink.arrived_at.values()) - killed
    each = sorted(round(sink.arrived_at[to] - killed, 1) for to in in_its_hands)
    codes = sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * BURST
    duplicates = sum(count - 1 for count in sink.per_recipient.values())
    report("kill -9 of one of two worker nodes mid-burst (RabbitMQ), from the kill", last, codes=BURST, held=each)
    assert duplicates == 0
    assert wait_for(lambda: stack.log_statuses() == {"sent": BURST}, timeout=30, what="every log row sent")
    # Before its liveness key could have expired (5 s, refreshed every 1 s): the kernel's answer.
    assert last < ALIVE_TTL - ALIVE_TTL / 5


def claimed_by_pid(stack) -> dict[int, int]:
    """pid -> how many log rows that process holds claimed (sending), from the owner ids."""
    sql = "SELECT split_part(claimed_by, ':', 2), count(*) FROM communication_logs WHERE status = 'sending' GROUP BY 1"
    return {int(pid): count for pid, count in stack.postgres.execute(sql, stack.database) if pid}


def kill_9_while_the_codes_wait_for_their_retry(stack, broker: str) -> float:
    stack.sink.refuse_first = [GREYLISTED] * CODES
    stack.start_web()
    stack.start_beat()
    worker = stack.start_worker()
    recipients = [f"greylisted{i}@example.com" for i in range(CODES)]
    assert [stack.send(to) for to in recipients] == [202] * CODES
    wait_for(lambda: not stack.sink.refuse_first, timeout=60, what="every first try greylisted")
    wait_for(lambda: stack.log_statuses() == {"queued": CODES}, timeout=30, what="every code waiting for its retry")
    refused = time.monotonic()

    worker.kill()
    stack.start_worker()

    wait_for(lambda: set(stack.sink.per_recipient) == set(recipients), timeout=120, what="every code to arrive")
    recovery = time.monotonic() - refused
    codes = stack.sink.codes_by_recipient()
    assert [stack.verify(to, codes[to]) for to in recipients] == [200] * CODES
    duplicates = sum(count - 1 for count in stack.sink.per_recipient.values())
    report(f"kill -9 worker while retries wait ({broker}, due {DUE} s after the refusal)", recovery, codes=CODES)
    assert duplicates == 0
    assert recovery >= DUE - 1  # never before the server's delay (less the time to see the rows queued)
    return recovery


@pytest.mark.soak  # the Redis side of the comparison: `make chaos` runs it, `make test` does not
def test_kill_9_while_retries_wait_on_redis_the_sweep_brings_them_back(chaos_stack):
    recovery = kill_9_while_the_codes_wait_for_their_retry(chaos_stack, "Redis")
    assert recovery >= DUE + 5  # not when due: a grace period after (the retries died with the worker)


def test_kill_9_while_retries_wait_on_rabbitmq_they_arrive_when_due(chaos_stack, rabbitmq_vhost):
    on_rabbitmq(chaos_stack, rabbitmq_vhost)
    recovery = kill_9_while_the_codes_wait_for_their_retry(chaos_stack, "RabbitMQ")
    assert recovery < DUE + 5  # when due: the retries waited in the broker, not in the dead worker
