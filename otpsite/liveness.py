"""Which worker processes are alive: one Redis key per process, refreshed every second or so.

A worker process announces itself before it takes a task (Celery's worker_init for the threads
pool's one process, worker_process_init in each prefork child): it writes its key
``<prefix>:{workers-alive}:process:<owner>`` with a TTL of WORKER_ALIVE_TTL_SECONDS (5 s), and a
daemon thread refreshes it every fifth of that; a clean shutdown deletes it. The owner is
``host:pid:start:space:uuid``, one per process. A process killed with -9 stops refreshing, so its
key is gone at most a TTL later; a taker on the same host and in the same namespaces does not wait
for that: it asks the kernel whether the owner's pid is gone (otpsite/same_host.py).

A claim on a log row records its owner (CommunicationLog.claimed_by, set only while this process's
key is fresh, see :func:`owner`), so a worker that finds a row claimed can ask :func:`recheck_in`
whether that owner is still alive, instead of waiting out the claim's 40 s lease. An owner that
ran beside the asker and whose process is gone is dead at once (the kernel says so, whatever Redis
holds). Otherwise it never answers "dead" on doubt:

- Redis unreadable, no owner recorded, or this process not announced: None (leave it to the lease);
- the liveness keys younger than a TTL: they may have just come back from a Redis that lost
  them (a restart without persistence, a flush), and a live owner may not have written its key
  again yet. The first heartbeat into an empty Redis writes an epoch key (no TTL) beside them; the
  keys are trusted once it is a TTL old (by the asker's clock: hosts keep NTP
  time). All liveness keys share one hash slot, so a Redis Cluster keeps them, and the epoch, on
  one node and loses them together;
- this process failed to refresh its own key within the last TTL: Redis may have been out of every
  process's reach, so a live owner's key may have expired and not be written again yet;
- the owner's key present: alive, look again when it would expire.

A live process whose heartbeat is stalled for a TTL (a pause of the whole VM) may see its
claim taken over, as a 40 s pause would have seen its lease expire: the taker stores a new code's
hash, so the earlier code, if it is still sent, no longer verifies. Nothing is ever valid twice.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis
from django.conf import settings

from otpsite import same_host
from otpsite.redis import get_redis, slotted_key

logger = logging.getLogger(__name__)


def ttl_seconds() -> float:
    """How long a key lives unless refreshed (WORKER_ALIVE_TTL_SECONDS, 5 s by default)."""
    return float(settings.WORKER_ALIVE_TTL_SECONDS)


def refresh_seconds() -> float:
    return ttl_seconds() / 5


def warm_seconds() -> float:
    """How old the epoch must be before a key's absence means death: a live process has refreshed
    its key several times over by then."""
    return ttl_seconds()


SLOT = "workers-alive"


@dataclass
class _Heartbeat:
    pid: int
    owner: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    last_ok: float = float("-inf")  # time.monotonic() of the last successful refresh
    last_failure: float = float("-inf")  # ... and of the last failed one


_heartbeat: _Heartbeat | None = None
_lock = threading.Lock()


def key(owner: str) -> str:
    return slotted_key(SLOT, "process", owner)


def epoch_key() -> str:
    return slotted_key(SLOT, "epoch")


def new_owner() -> str:
    """host:pid:start:space:uuid, unique to one process's life (a pid may be reused, a uuid is not);
    start and space let a taker on the same host ask the kernel whether it died (otpsite/same_host.py)."""
    start, space = same_host.this_process()
    return f"{same_host.hostname()}:{os.getpid()}:{start}:{space}:{uuid.uuid4().hex}"


def start() -> str:
    """Announce this process (once per process; a forked child announces itself anew) and keep it
    announced. The first write is made before returning, so the process's claims name a live key."""
    global _heartbeat
    with _lock:
        if _heartbeat is not None and _heartbeat.pid == os.getpid():
            return _heartbeat.owner
        beat = _Heartbeat(pid=os.getpid(), owner=new_owner())
        _refresh(beat)
        beat.thread = threading.Thread(target=_run, args=(beat,), name="worker-alive", daemon=True)
        beat.thread.start()
        _heartbeat = beat
        return beat.owner


def stop() -> None:
    """Stop refreshing and delete the key: this process's claims may be taken over at once."""
    global _heartbeat
    with _lock:
        beat, _heartbeat = _heartbeat, None
    if beat is None or beat.pid != os.getpid():
        return
    beat.stop.set()
    if beat.thread is not None:
        beat.thread.join(timeout=2 * refresh_seconds())
    try:
        get_redis().delete(key(beat.owner))
    except redis.RedisError:
        logger.warning("could not delete this worker's liveness key; it expires in %.0f s", ttl_seconds())


def owner() -> str:
    """This process's owner for a claim it makes now, or "" (the claim then only has its lease):
    not announced, or its key not refreshed lately enough to be sure it outlives the claim."""
    beat = _heartbeat
    if beat is None or beat.pid != os.getpid():
        return ""
    if time.monotonic() - beat.last_ok > ttl_seconds() - 2 * refresh_seconds():
        return ""
    return beat.owner


def recheck_in(claimed_by: str) -> float | None:
    """0.0 when `claimed_by` is dead; seconds to wait before asking again while it may be alive;
    None when it cannot be known (see the module's docstring). An owner that ran beside us in this
    namespace and whose process is gone is dead at once, whatever its key says (otpsite/same_host.py)."""
    if claimed_by and same_host.certainly_dead(claimed_by):
        return 0.0
    me, beat = owner(), _heartbeat
    if not claimed_by or not me or beat is None:
        return None
    unreachable_for = ttl_seconds() - (time.monotonic() - beat.last_failure)
    if unreachable_for > 0:  # Redis was out of our reach lately: a live owner's key may be back soon
        return unreachable_for
    try:
        pipe = get_redis().pipeline(transaction=False)
        pipe.get(epoch_key())
        pipe.exists(key(me))
        pipe.pttl(key(claimed_by))
        epoch, mine, ttl_ms = pipe.execute()
    except redis.RedisError:
        return None
    if epoch is None or not mine:  # Redis has just lost its keys: ours comes back at the next refresh
        return warm_seconds()
    warm_for = warm_seconds() - (time.time() - float(epoch))
    if warm_for > 0:
        return warm_for
    if ttl_ms == -2:  # no such key: its owner stopped refreshing it a TTL ago, or shut down
        return 0.0
    if ttl_ms < 0:  # a key without a TTL is none of ours: do not judge
        return None
    return float(ttl_ms) / 1000


def _run(beat: _Heartbeat) -> None:
    while not beat.stop.wait(refresh_seconds()):
        _refresh(beat)


def _refresh(beat: _Heartbeat) -> None:
    """Write the key with its TTL, and the epoch if Redis has none (the time its keys began)."""
    try:
        pipe: Any = get_redis().pipeline(transaction=False)
        pipe.set(epoch_key(), repr(time.time()), nx=True)
        pipe.set(key(beat.owner), "1", px=int(ttl_seconds() * 1000))
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not refresh this worker's liveness key; its claims fall back to the lease")
        beat.last_failure = time.monotonic()
        return
    beat.last_ok = time.monotonic()
