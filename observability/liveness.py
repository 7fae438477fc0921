"""GET /health's body: database, Redis and at least one Celery worker, checked in parallel, each
within CHECK_TIMEOUT_SECONDS. What load balancers and orchestrators ask: is the stack alive."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from messaging.health import iso
from otpsite.celery import app
from otpsite.logs import log_event
from otpsite.redis import get_redis

# The logger these events have always had.
logger = logging.getLogger("messaging.health")
CHECK_TIMEOUT_SECONDS = 1.0


def check_database() -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()  # this thread's own connection


def check_redis() -> None:
    get_redis().ping()


def check_workers() -> None:
    if not app.control.ping(timeout=CHECK_TIMEOUT_SECONDS, limit=1):
        raise RuntimeError("no worker answered")


LIVENESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "redis": check_redis,
    "workers": check_workers,
}


def liveness() -> dict[str, Any]:
    """The GET /health body; status "ok" only when every check passed in time."""
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=len(LIVENESS_CHECKS), thread_name_prefix="health")
    futures = {name: pool.submit(check) for name, check in LIVENESS_CHECKS.items()}
    checks: dict[str, dict[str, Any]] = {}
    for name, future in futures.items():
        remaining = max(0.0, CHECK_TIMEOUT_SECONDS + 0.5 - (time.monotonic() - started))
        try:
            future.result(timeout=remaining)
        except FutureTimeout:
            checks[name] = {"ok": False, "detail": f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"}
        except Exception as err:
            # The exception's type only: messages may carry URLs with credentials.
            checks[name] = {"ok": False, "detail": type(err).__name__}
        else:
            checks[name] = {"ok": True, "detail": "ok"}
    # A check stuck on a dead host finishes (or times out) on its own; nobody waits for it.
    pool.shutdown(wait=False)
    ok = all(check["ok"] for check in checks.values())
    if not ok:
        failing = ",".join(name for name, check in checks.items() if not check["ok"])
        log_event(logger, "health.unavailable", level=logging.WARNING, failing=failing)
    return {"status": "ok" if ok else "unavailable", "timestamp": iso(datetime.now(UTC)), "checks": checks}
