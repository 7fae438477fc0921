"""Flower with all of it behind its login: `python -m workers.flower --basic-auth=user:pass ...`.

Flower 2.x serves `/metrics` (worker names, task names and counts) and `/healthcheck` without
authentication even when --basic-auth is set. This entry point wraps those two handlers in
tornado's `authenticated`, as Flower's own pages are, then starts `celery -A workers flower` with
the given options in this process. Without --basic-auth (or --auth) it refuses to start.
"""

from __future__ import annotations

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
    if not any(arg.startswith(("--basic-auth", "--basic_auth", "--auth")) for arg in argv):
        sys.exit("workers.flower: --basic-auth user:password is required")
    protect_every_page()
    from celery.bin.celery import main as celery_main

    sys.argv = ["celery", "-A", "workers", "flower", *argv]
    celery_main()


if __name__ == "__main__":
    main(sys.argv[1:])
