"""Beat: a schedule that sends its task only when there is work for it, and a scheduler that lets
several beats run side by side without sending one job twice.

A sweep on beat every few seconds finds nothing almost every time, yet each run is a task that
Flower lists, drowning the deliveries there. `WhenOwed` asks a cheap function in the beat process
(`check(now=...)`, e.g. one indexed EXISTS query) whether the sweep would find anything; if not, the
task is not sent. It still runs at least every `idle_every` seconds, and whenever the check fails
(a database that is down says nothing, so the sweep runs and reports it).

`LockedScheduler` (celeryconfig's beat_scheduler) sends a due job only if it takes the job's Redis
lock first: SET NX with a lifetime of 0.9 of the job's period. Two beats (one per node, for
availability) then send each job once per period, whichever is first; if one beat dies, the other
sends the next run. Redis unreachable: the job is sent anyway (a sweep run twice is harmless, each
task claims its rows; a sweep not run could leave a code undelivered), and a warning says so.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta
from typing import Any

import redis
from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import schedstate, schedule
from django.db import close_old_connections
from django.utils.module_loading import import_string

from otpsite.redis import get_redis, redis_key

logger = logging.getLogger("otpsite.beat")


class WhenOwed(schedule):
    def __init__(
        self,
        run_every: float | timedelta | None = None,
        relative: bool = False,
        nowfun: Any = None,
        app: Any = None,
        *,
        check: str = "",
        idle_every: float = 60.0,
    ) -> None:
        super().__init__(run_every, relative, nowfun, app)
        self.check = check
        self.idle_every = idle_every

    def is_due(self, last_run_at: Any) -> schedstate:
        due, next_check = super().is_due(last_run_at)
        if not due:
            return schedstate(False, next_check)
        idle_for = (self.now() - self.maybe_make_aware(last_run_at)).total_seconds()
        if idle_for >= self.idle_every or self._owed():
            return schedstate(True, next_check)
        return schedstate(False, self.seconds)

    def _owed(self) -> bool:
        try:
            return bool(import_string(self.check)(now=self.maybe_make_aware(self.now())))
        except Exception:  # any doubt runs the sweep, which reports the problem itself
            logger.warning("beat check %s failed; sending the task", self.check, exc_info=True)
            close_old_connections()
            return True

    def __eq__(self, other: Any) -> bool:
        # Unlike a plain schedule, equal only to the same kind: a stored plain entry is replaced.
        return isinstance(other, WhenOwed) and (self.run_every, self.check, self.idle_every) == (
            other.run_every,
            other.check,
            other.idle_every,
        )

    def __hash__(self) -> int:
        return hash((self.run_every, self.check, self.idle_every))

    def __reduce__(self) -> Any:
        return _rebuild, (self.run_every, self.relative, self.check, self.idle_every)

    def __repr__(self) -> str:
        return f"<freq: {self.human_seconds} when {self.check} says so, else every {self.idle_every:g}s>"


def _rebuild(run_every: timedelta, relative: bool, check: str, idle_every: float) -> WhenOwed:
    return WhenOwed(run_every, relative, check=check, idle_every=idle_every)


# Share of a job's period its lock lives: the next run of the beat that holds it always finds it gone.
LOCK_SHARE_OF_PERIOD = 0.9
# Period assumed for a schedule without a fixed interval (crontab: at most once a minute).
DEFAULT_PERIOD_SECONDS = 60.0


class LockedScheduler(PersistentScheduler):
    """celery beat's file-backed scheduler, sending a due job only under its per-period Redis lock."""

    def apply_entry(self, entry: ScheduleEntry, producer: Any = None) -> None:
        if not claim_run(entry.name, period_seconds(entry.schedule)):
            logger.debug("beat: another beat sent %s within its period; not sending", entry.name)
            return
        super().apply_entry(entry, producer=producer)


def period_seconds(job_schedule: Any) -> float:
    seconds = getattr(job_schedule, "seconds", None)
    return float(seconds) if isinstance(seconds, int | float) and seconds > 0 else DEFAULT_PERIOD_SECONDS


def claim_run(name: str, period: float) -> bool:
    """True when this beat may send job `name` now: no beat sent it in the last 0.9 periods."""
    lifetime_ms = max(1, int(period * LOCK_SHARE_OF_PERIOD * 1000))
    owner = f"{socket.gethostname()}:{os.getpid()}"
    try:
        return bool(get_redis().set(redis_key("beat", name), owner, nx=True, px=lifetime_ms))
    except redis.RedisError:
        logger.warning("beat: Redis unreachable, sending %s without its lock", name, exc_info=True)
        return True
