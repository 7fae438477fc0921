"""One Redis client per process for breakers, limits and quotas, with short timeouts.

The client is shared by every thread of a worker (redis-py's connection pool hands each command
its own connection); it is built once per URL, under a lock.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_build_lock = threading.Lock()


def get_redis() -> redis.Redis:
    """The process's client for settings.REDIS_URL; calls raise redis.RedisError when it is down."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is not None:
        return client
    with _build_lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = _new_client(url)
    return client


def _new_client(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
        socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
        retry_on_timeout=False,
        health_check_interval=30,
        decode_responses=True,
    )


def redis_key(*parts: str) -> str:
    """A key under the service's prefix, e.g. redis_key("breaker", "ses")."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))
