"""Answers of the database kept per process between sends, dropped when a Redis generation token changes.

One mechanism for every such cache (templates: messaging/templating/cache.py; a tenant's chains,
credentials and budget: messaging/tenancy/cache.py). Each GenerationCache has its own token:

- a Redis key holds the token; every save or delete of a row the cache answers from replaces it
  (`changed`, connected to post_save and post_delete: at once and again after the commit, so a
  reader that saw the new token before the commit cannot keep the old row), and a process holding
  answers of another token drops them all;
- a Redis that lost the key (flushed, failed over) gets a new token, so answers are dropped then too;
- answers older than `max_age` seconds are dropped regardless, for writes that send no signal
  (a bulk update, a raw SQL data fix);
- with Redis unreachable nothing is kept: every lookup reads the database.

The cost is one Redis GET per lookup instead of a SELECT, or one per cache for a whole delivery
run inside `pinned()`, which reads each token once (a change made meanwhile reaches the next
delivery, as it would had the delivery started a moment later). An answer is shared by the
process's threads: callers only read it.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import redis

from otpsite.redis import get_redis, redis_key

MAX_AGE_SECONDS = 60.0

_pins = threading.local()  # .tokens: {cache name: token} while this thread runs inside pinned()


@contextlib.contextmanager
def pinned() -> Iterator[None]:
    """Within the block each cache's token is read from Redis at most once (by this thread)."""
    if getattr(_pins, "tokens", None) is not None:
        yield  # already pinned by an outer block
        return
    _pins.tokens = {}
    try:
        yield
    finally:
        _pins.tokens = None


class GenerationCache:
    def __init__(self, name: str, *, max_age: float = MAX_AGE_SECONDS) -> None:
        self.name, self.max_age = name, max_age
        self._lock = threading.Lock()
        self._answers: dict[tuple[str, ...], Any] = {}
        self._generation: str | None = None
        self._since = 0.0

    def generation_key(self) -> str:
        return redis_key(self.name, "generation")

    def cached(self, key: tuple[str, ...], lookup: Callable[[], Any]) -> Any:
        """lookup()'s answer for `key`, from this process's answers while nothing it reads has changed."""
        tokens: dict[str, str | None] | None = getattr(_pins, "tokens", None)
        if tokens is None:
            generation = self.current_generation()
        elif self.name in tokens:
            generation = tokens[self.name]
        else:
            generation = tokens[self.name] = self.current_generation()
        if generation is None:
            return lookup()
        now = time.monotonic()
        with self._lock:
            if self._generation != generation or now - self._since > self.max_age:
                self._answers.clear()
                self._generation, self._since = generation, now
            elif key in self._answers:
                return self._answers[key]
        found = lookup()
        with self._lock:
            if self._generation == generation:
                self._answers[key] = found
        return found

    def current_generation(self) -> str | None:
        """The token now (a new one if Redis has none); None when Redis is unreachable."""
        key = self.generation_key()
        try:
            client = get_redis()
            found = client.get(key)
            if found is None:
                client.set(key, secrets.token_hex(8), nx=True)
                found = client.get(key)
        except redis.RedisError:
            return None
        return None if found is None else found.decode() if isinstance(found, bytes) else str(found)

    def changed(self, **_: Any) -> None:
        """A row the answers come from was saved or deleted: every process drops them (now, and after the commit)."""
        from django.db import transaction

        self._new_generation()
        transaction.on_commit(self._new_generation)

    def _new_generation(self) -> None:
        # Unreachable Redis: max_age still bounds how long a process keeps the old answers.
        with contextlib.suppress(redis.RedisError):
            get_redis().set(self.generation_key(), secrets.token_hex(8))
