"""Messages waiting in each RabbitMQ queue, for `messaging_queue_depth` on /metrics.

One short connection per scrape; a passive declare answers a queue's ready messages without
creating it (a queue no worker has declared yet counts 0). With quorum queues the dead-letter queue
is listed too: anything in it went past the delivery limit (otpsite/quorum.py) and is for an
operator to read (alert MessagesDeadLettered).
"""

from __future__ import annotations

from collections.abc import Iterable

from amqp.exceptions import NotFound
from django.conf import settings
from kombu import Connection


def queue_depths(queues: Iterable[str]) -> list[tuple[str, int]]:
    names = list(queues)
    if settings.CELERY_QUEUE_TYPE == "quorum":
        names.append(settings.CELERY_QUEUE_DEAD_LETTER)
    depths = []
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=1) as connection:
        connection.ensure_connection(max_retries=1)
        for name in names:
            channel = connection.channel()  # a passive declare of a missing queue closes its channel
            try:
                _, ready, _ = channel.queue_declare(name, passive=True)
            except NotFound:
                ready = 0
            finally:
                if channel.is_open:
                    channel.close()
            depths.append((name, int(ready)))
    return depths
