"""RabbitMQ quorum queues (CELERY_QUEUE_TYPE=quorum): the queues, their dead-letter queue, countdowns.

A quorum queue counts how often a message went back to it because the consumer holding it died
(its connection dropped before the ack). Past CELERY_QUEUE_DELIVERY_LIMIT returns the broker
dead-letters it, so one message that kills every worker that takes it cannot keep the queue's
other messages waiting forever. RabbitMQ 4 sets a limit of 20 on every quorum queue and *drops*
such a message when the queue has no dead-letter exchange; here every queue has one, with
at-least-once dead-lettering, so the message lands in the dead-letter queue
(CELERY_QUEUE_DEAD_LETTER, `messaging_queue_depth` on /metrics) and stays there for an operator.
No code is lost meanwhile: its log row is still `queued` or `sending`, so the recovery sweep on
beat publishes its delivery again (otp/recovery.py, notifications/recovery.py).

Celery's native delayed delivery (countdowns and ETAs held in the broker, not in a worker's
memory) needs topic exchanges, so each queue has a topic exchange of its own, bound with the
queue's name as the key (a direct exchange in all but name).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from celery import Celery, bootsteps
from django.conf import settings
from kombu import Exchange, Queue

logger = logging.getLogger(__name__)


def quorum_arguments(delivery_limit: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": settings.CELERY_QUEUE_DEAD_LETTER,
        # at-least-once: the message leaves the source queue only once the dead-letter queue has it
        # (RabbitMQ 3.10+); it needs reject-publish as the overflow rule.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def task_queues(names: list[str], *, delivery_limit: int) -> list[Queue]:
    """The service's queues as quorum queues, each on a topic exchange of its own."""
    arguments = quorum_arguments(delivery_limit)
    return [Queue(name, Exchange(name, type="topic"), routing_key=name, queue_arguments=arguments) for name in names]


def dead_letter_queue() -> Queue:
    """Where the broker puts what went past the delivery limit; no worker consumes it."""
    name = settings.CELERY_QUEUE_DEAD_LETTER
    return Queue(
        name,
        Exchange(name, type="fanout"),
        routing_key="",
        queue_arguments={"x-queue-type": "quorum"},
    )


class DeclareDeadLetterQueue(bootsteps.StartStopStep):
    """Declares the dead-letter exchange and queue each time the worker's consumer (re)connects."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def include_if(self, c: Any) -> bool:
        return bool(c.app.conf.otpsvc_quorum_queues)

    def start(self, c: Any) -> None:
        with c.app.connection_for_write() as connection:
            dead_letter_queue().bind(connection.default_channel).declare()
        logger.info("dead-letter queue %r declared", settings.CELERY_QUEUE_DEAD_LETTER)


class QuorumCelery(Celery):
    """Celery, with countdowns of less than a second sent as one second under quorum queues.

    Native delayed delivery counts whole seconds and refuses a countdown that rounds down to 0
    (kombu's calculate_routing_key raises ValueError), which a database retry's first 0.5 s would be.
    """

    def send_task(self, name: str, args: Any = None, kwargs: Any = None, countdown: Any = None, **options: Any) -> Any:
        if countdown is not None and 0 < countdown < 1 and self.conf.otpsvc_quorum_queues:
            countdown = math.ceil(countdown)
        return super().send_task(name, args, kwargs, countdown=countdown, **options)
