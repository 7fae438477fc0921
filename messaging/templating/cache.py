"""The latest template of each (tenant, name, channel, locale), kept in this process between sends.

store.current ran one SELECT per delivery: about a quarter of a delivery's own CPU in the worker's
profile (bench/README.md). Its answers are now kept per process, and dropped when they may be stale:

- a Redis key holds a generation token; every save or delete of a MessageTemplate replaces it
  (at once and again after its commit, so a reader that saw the new token before the commit
  cannot keep the old row), and a process holding answers of another token drops them all;
- a Redis that lost the key (flushed, failed over) gets a new token, so answers are dropped then too;
- answers older than MAX_AGE_SECONDS are dropped regardless, for writes that send no signal
  (a bulk update, a raw SQL data fix);
- with Redis unreachable nothing is kept: every lookup reads the database, as before.

The cost is one Redis GET per lookup instead of a SELECT. A cached template is shared by the
process's threads: callers only read it.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from otpsite.redis import get_redis, redis_key

MAX_AGE_SECONDS = 60.0

_lock = threading.Lock()
_answers: dict[tuple[str, ...], Any] = {}
_held: dict[str, Any] = {"generation": None, "since": 0.0}


def generation_key() -> str:
    return redis_key("templates", "generation")


def cached(key: tuple[str, ...], lookup: Callable[[], Any]) -> Any:
    """lookup()'s answer for `key`, from this process's answers while no template has changed."""
    generation = current_generation()
    if generation is None:
        return lookup()
    now = time.monotonic()
    with _lock:
        if _held["generation"] != generation or now - _held["since"] > MAX_AGE_SECONDS:
            _answers.clear()
            _held.update(generation=generation, since=now)
        elif key in _answers:
            return _answers[key]
    found = lookup()
    with _lock:
        if _held["generation"] == generation:
            _answers[key] = found
    return found


def current_generation() -> str | None:
    """The token templates are at now (a new one if Redis has none); None when Redis is unreachable."""
    try:
        client = get_redis()
        found = client.get(generation_key())
        if found is None:
            client.set(generation_key(), secrets.token_hex(8), nx=True)
            found = client.get(generation_key())
    except redis.RedisError:
        return None
    return None if found is None else found.decode() if isinstance(found, bytes) else str(found)


def templates_changed(**_: Any) -> None:
    """A template was saved or deleted: every process drops its answers (now, and after the commit)."""
    from django.db import transaction

    _new_generation()
    transaction.on_commit(_new_generation)


def _new_generation() -> None:
    # Unreachable Redis: MAX_AGE_SECONDS still bounds how long a process keeps the old answers.
    with contextlib.suppress(redis.RedisError):
        get_redis().set(generation_key(), secrets.token_hex(8))
