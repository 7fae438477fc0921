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
