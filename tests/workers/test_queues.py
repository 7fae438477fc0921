"""Each kind of work has a queue of its own, and a worker started without -Q consumes all of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from messaging.tasks import apply_pending_receipts, read_sns_sms_receipts
from otp.tasks import (
    deliver_otp,
    recover_undelivered_codes,
    resend_codes_without_receipt,
    resend_otp,
    resume_lost_resend,
)
from otpsite.celery import app
from workers.tasks import purge_expired_records

QUEUES = ("delivery", "receipts", "sweeps", "retention", "callbacks")


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    """The queues declared as a starting worker declares them (exchanges, bindings), but no worker
    runs: what is published stays in the broker's lists, where it is counted."""
    with app.connection_for_write() as connection:
        for queue in app.amqp.queues.values():
            queue(connection.default_channel).declare()
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*QUEUES)
    yield client
    client.delete(*QUEUES)


def lengths(broker: redis.Redis) -> dict[str, int]:
    return {queue: int(broker.llen(queue)) for queue in QUEUES}


@pytest.mark.parametrize(
    ("task", "args", "queue"),
    [
        (deliver_otp, ("00000000-0000-0000-0000-000000000000",), "delivery"),
        (resend_otp, (1, "no_receipt"), "receipts"),
        (resend_codes_without_receipt, (), "receipts"),
        (read_sns_sms_receipts, (), "receipts"),
        (resume_lost_resend, (1,), "receipts"),
        (apply_pending_receipts, (), "receipts"),
        (recover_undelivered_codes, (), "sweeps"),
        (purge_expired_records, (), "retention"),
    ],
)
def test_each_task_lands_in_its_own_queue_and_in_no_other(broker, task, args, queue):
    task.delay(*args)

    assert lengths(broker) == {name: int(name == queue) for name in QUEUES}


def test_a_worker_started_without_q_consumes_every_queue():
    assert [queue.name for queue in app.conf.task_queues] == list(QUEUES)


def test_each_queue_has_an_exchange_and_routing_key_of_its_own():
    """On RabbitMQ, queues sharing the default exchange and key would each get every message."""
    declared = {queue.name: (queue.exchange.name, queue.routing_key) for queue in app.conf.task_queues}
    assert declared == {name: (name, name) for name in QUEUES}


def test_every_task_of_the_service_is_routed_by_name_not_left_to_the_default_queue():
    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    assert ours, "no task registered"
    assert ours - set(app.conf.task_routes) == set()
