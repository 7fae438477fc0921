"""Flower with all of it behind its login: `FLOWER_BASIC_AUTH=user:pass python -m workers.flower ...`.

Flower 2.x serves `/metrics` (worker names, task names and counts) and `/healthcheck` without
authentication even when --basic-auth is set. This entry point wraps those two handlers in
tornado's `authenticated`, as Flower's own pages are, then starts `celery -A workers flower` with
the given options in this process. Without a login (FLOWER_BASIC_AUTH in the environment, which
Flower reads itself and `ps` does not show, or --basic-auth / --auth) it refuses to start.

Flower by default tells every worker to send task events once a minute (its --enable_events),
which would overrule the workers' CELERY_WORKER_SEND_TASK_EVENTS (off by default: the events cost
CPU on every task). This entry point passes --enable_events=False unless given --enable_events:
Flower lists the workers from their heartbeats either way, and lists tasks from the workers that
send task events (CELERY_WORKER_SEND_TASK_EVENTS=1).
"""

from __future__ import annotations

import os
import sys

import tornado.web
from flower.views import monitor

_UNPROTECTED_HANDLERS = (monitor.Metrics, monitor.Healthcheck)


def protect_every_page() -> None:
    """Make Flower ask for its login on /metrics and /healthcheck too (idempotent)."""
    for handler in _UNPROTECTED_HANDLERS:
        if not getattr(handler.get, "login_required", False):
            protected = tornado.web.authenticated(handler.get)
            protected.login_required = True  # type: ignore[attr-defined]
            handler.get = protected  # type: ignore[method-assign]


def main(argv: list[str]) -> None:
    login_given = any(arg.startswith(("--basic-auth", "--basic_auth", "--auth")) for arg in argv)
    if not (login_given or os.environ.get("FLOWER_BASIC_AUTH") or os.environ.get("FLOWER_AUTH")):
        sys.exit("workers.flower: set FLOWER_BASIC_AUTH=user:password (or pass --basic-auth)")
    protect_every_page()
    from celery.bin.celery import main as celery_main

    if not any(arg.startswith(("--enable_events", "--enable-events")) for arg in argv):
        argv = ["--enable_events=False", *argv]
    sys.argv = ["celery", "-A", "workers", "flower", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
