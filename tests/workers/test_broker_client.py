"""kombu's Redis transport with one Redis client per channel (otpsite/broker_redis.py)."""

from __future__ import annotations

import pytest

from otpsite.broker_redis import Transport
from workers import app


@pytest.fixture
def channel():
    if not app.conf.broker_url.startswith("redis://"):
        pytest.skip("the kept client is for redis:// brokers")
    with app.connection_for_write() as connection:
        yield connection.default_channel


def test_a_redis_broker_uses_the_transport_that_keeps_its_client(channel):
    assert isinstance(channel.connection, Transport)


def test_every_acknowledgement_and_publish_reuses_the_channels_client_until_its_pool_is_replaced(channel):
    with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
        assert first is second
        assert first.ping()

    channel._pool = None  # what kombu does when the channel's connections are dropped (a reconnect)
    with channel.conn_or_acquire() as third:
        assert third is not first and third.connection_pool is channel.pool
        assert third.ping()


def test_tasks_published_and_taken_through_it_arrive(channel):
    queue = "broker-client-test"
    channel.queue_declare(queue=queue, auto_delete=False)
    channel.basic_publish(channel.prepare_message("hello"), exchange="", routing_key=queue)

    message = channel.basic_get(queue=queue, no_ack=False)
    assert message is not None and message.body == b"hello"
    message.ack()
    assert channel.basic_get(queue=queue) is None
