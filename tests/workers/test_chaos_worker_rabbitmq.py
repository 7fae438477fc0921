"""The kill -9 chaos test of tests/workers/test_chaos_worker.py with RabbitMQ as the broker.

The same burst, the same kill, the same checks; only the broker differs (quorum queues, in a vhost
of the test's own), so the two RECOVERY lines compare the brokers (README, "Brokers").
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workers import test_chaos_worker
from tests.workers.rabbitmq import amqp_url, private_vhost

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


@pytest.fixture
def rabbitmq_vhost() -> Iterator[str]:
    yield from private_vhost()


def test_kill_9_of_the_worker_mid_burst_on_rabbitmq_loses_no_code(chaos_stack, rabbitmq_vhost):
    chaos_stack.env.update(CELERY_BROKER_URL=amqp_url(rabbitmq_vhost), CELERY_QUEUE_TYPE="quorum")
    test_chaos_worker.test_kill_9_of_every_worker_process_mid_burst_loses_no_code(chaos_stack)
