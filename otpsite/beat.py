"""A beat schedule that sends its task only when there is work for it (or now and then anyway).

A sweep on beat every few seconds finds nothing almost every time, yet each run is a task that
Flower lists, drowning the deliveries there. `WhenOwed` asks a cheap function in the beat process
(`check(now=...)`, e.g. one indexed EXISTS query) whether the sweep would find anything; if not, the
task is not sent. It still runs at least every `idle_every` seconds, and whenever the check fails
(a database that is down says nothing, so the sweep runs and reports it).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery.schedules import schedstate, schedule
from django.db import close_old_connections
from django.utils.module_loading import import_string

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
