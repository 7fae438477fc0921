"""One Redis client per process for breakers, limits and quotas, with short timeouts."""

from __future__ import annotations

import redis
from django.conf import settings

_clients: dict[str, redis.Redis] = {}


def get_redis() -> redis.Redis:
    """The process's client for settings.REDIS_URL; calls raise redis.RedisError when it is down."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(
            url,
            socket_timeout=settings.REDIS_SOCKET_TIMEOUT,
            socket_connect_timeout=settings.REDIS_SOCKET_TIMEOUT,
            retry_on_timeout=False,
            health_check_interval=30,
            decode_responses=True,
        )
        _clients[url] = client
    return client


def redis_key(*parts: str) -> str:
    """A key under the service's prefix, e.g. redis_key("breaker", "ses")."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))
