"""The one place Redis clients are built: breakers, limits, lockout, quotas, receipts, beat locks.

``get_redis()`` answers the process's client for the service's state, whichever way Redis is run
(README, "Redis Sentinel and Cluster"):

- ``REDIS_CLUSTER_URL``: a Redis Cluster (redis-py's RedisCluster). Every script's keys share one
  hash tag (:func:`slotted_key`), so no script touches two slots.
- ``REDIS_SENTINELS`` and ``REDIS_SENTINEL_MASTER``: the current master of a Sentinel group. A
  connection asks the sentinels where the master is when it connects, so after a failover the
  next connection reaches the new one; a connection to a master that was demoted is dropped.
- otherwise ``REDIS_URL``: one server.

``get_broker_redis()`` answers a client for the Celery broker's Redis (plain or through Sentinel),
for reading queue depths; Celery itself connects through kombu (celeryconfig.py).

Each client is shared by every thread of a process (the pool hands each command its own
connection) and built once per configuration, under a lock. Calls raise redis.RedisError when the
store cannot be reached; callers fail closed or fall back, as each says.
"""

from __future__ import annotations

import threading
from typing import Any, cast
from urllib.parse import unquote, urlsplit

import redis
from django.conf import settings
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException
from redis.sentinel import Sentinel

_clients: dict[tuple[str, ...], Any] = {}
_build_lock = threading.Lock()


def get_redis() -> redis.Redis:
    """The process's client for the service's state (cluster, Sentinel's master, or REDIS_URL).

    A RedisCluster answers the same commands the service uses (scripts, hashes, sorted sets,
    pipelines of one slot), so it is typed as redis.Redis for the callers.
    """
    where = redis_location()
    return cast(redis.Redis, _cached(("state", where), lambda: _new_state_client()))


def redis_location() -> str:
    """Where the state lives, as a string that changes when the settings point elsewhere.

    It never holds a password: it is used as a cache key and may appear in a log line.
    """
    if settings.REDIS_CLUSTER_URL:
        return "cluster:" + _without_password(settings.REDIS_CLUSTER_URL)
    if settings.REDIS_SENTINELS:
        hosts = ",".join(settings.REDIS_SENTINELS)
        return f"sentinel:{hosts}/{settings.REDIS_SENTINEL_MASTER}/{settings.REDIS_DB}"
    return _without_password(settings.REDIS_URL)


def get_broker_redis() -> redis.Redis | None:
    """A client for the Celery broker's Redis (redis:// or sentinel://), or None for another broker."""
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        return cast(redis.Redis, _cached(("broker", url), lambda: redis.Redis.from_url(url, **_timeouts())))
    if url.startswith("sentinel://"):
        return cast(redis.Redis, _cached(("broker", url), lambda: _broker_sentinel_master(url)))
    return None


def slotted_key(slot: str, *parts: str) -> str:
    """A key whose Redis Cluster hash slot is chosen by `slot`: ``<prefix>:{<slot>}:<parts>``.

    Every key one script touches must name the same `slot` (Redis Cluster refuses a script whose
    keys lie in two slots with CROSSSLOT). The prefix may hold no brace (settings checks it), so
    the first ``{...}`` of the key is always this tag, whatever a later part holds.
    """
    return ":".join((settings.REDIS_KEY_PREFIX, "{" + slot + "}", *parts))


def redis_key(*parts: str) -> str:
    """A key under the service's prefix, e.g. redis_key("sns-sms-receipts", group), for keys that
    no script shares with another key (use :func:`slotted_key` for those)."""
    return ":".join((settings.REDIS_KEY_PREFIX, *parts))


# --- Building -------------------------------------------------------------------------------


def _cached(key: tuple[str, ...], build: Any) -> Any:
    client = _clients.get(key)
    if client is not None:
        return client
    with _build_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = build()
    return client


def _timeouts() -> dict[str, Any]:
    return {
        "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": settings.REDIS_SOCKET_TIMEOUT,
    }


def _client_options() -> dict[str, Any]:
    return {**_timeouts(), "retry_on_timeout": False, "health_check_interval": 30, "decode_responses": True}


def _new_state_client() -> Any:
    if settings.REDIS_CLUSTER_URL:
        # The cluster client learns the slot map from any node of the URL and follows MOVED and
        # failovers by itself; health_check_interval is a per-connection option it passes on.
        try:
            return _Cluster.from_url(settings.REDIS_CLUSTER_URL, **_client_options())
        except RedisClusterException as err:
            raise redis.ConnectionError(f"Redis Cluster: {err}") from err
    if settings.REDIS_SENTINELS:
        sentinel = _sentinel(settings.REDIS_SENTINELS, password=settings.REDIS_SENTINEL_PASSWORD)
        return sentinel.master_for(
            settings.REDIS_SENTINEL_MASTER,
            db=settings.REDIS_DB,
            password=settings.REDIS_PASSWORD or None,
            **_client_options(),
        )
    return redis.Redis.from_url(settings.REDIS_URL, **_client_options())


class _Cluster(RedisCluster):
    """RedisCluster whose "no node reachable" is a redis.ConnectionError, like a single server's.

    redis-py raises RedisClusterException (not a RedisError) when it cannot reach any node to learn
    the slot map; callers catch redis.RedisError to fail closed or fall back, so it is translated.
    """

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().execute_command(*args, **kwargs)
        except RedisClusterException as err:
            raise redis.ConnectionError(f"Redis Cluster: {err}") from err


def _sentinel(hosts: list[str], *, password: str) -> Sentinel:
    """A Sentinel client over `hosts` ("host:port"); `password` is the sentinels' own, if any."""
    sentinel_options: dict[str, Any] = {**_timeouts(), **({"password": password} if password else {})}
    return Sentinel([split_host_port(host) for host in hosts], sentinel_kwargs=sentinel_options, **_timeouts())


def _broker_sentinel_master(url: str) -> redis.Redis:
    """The broker's master, from a kombu sentinel URL (``sentinel://[:pw@]host:port[/db];...``)."""
    parts = [urlsplit(one) for one in url.split(";")]
    hosts = [f"{part.hostname}:{part.port or 26379}" for part in parts]
    db = int((parts[0].path or "/0").strip("/") or 0)
    password = unquote(parts[0].password) if parts[0].password else None
    sentinel = _sentinel(hosts, password=settings.REDIS_SENTINEL_PASSWORD)
    return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=db, password=password, **_timeouts())


def split_host_port(value: str) -> tuple[str, int]:
    """("host", port) from "host:port" (an IPv6 address in brackets: "[::1]:26379")."""
    host, _, port = value.strip().rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]"), int(port)


def _without_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()
