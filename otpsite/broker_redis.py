"""kombu's Redis transport with one Redis client per channel, kept (celeryconfig: redis:// brokers).

kombu builds a new redis.Redis object for every acknowledgement, every unacked-index update and
every publish (Channel.conn_or_acquire -> _create_client), over the channel's one connection pool.
The object's constructor was 12-22 % of the worker's CPU at 200 ms (bench/README.md). The client
is only a handle on that pool: it is safe to share between threads (each command takes a
connection from the pool; a pipeline is a new object per use), so each channel now keeps one and
builds it again only when its pool is replaced (the channel closed or reconnected).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _kept: tuple[Any, Any] | None = None  # (the pool it was built on, the client)
    _kept_lock = threading.Lock()

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool
        kept = self._kept
        if kept is None or kept[0] is not pool:
            with self._kept_lock:
                kept = self._kept
                if kept is None or kept[0] is not pool:
                    kept = self._kept = (pool, self._create_client())
        yield kept[1]


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
