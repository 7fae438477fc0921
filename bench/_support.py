"""Helpers for bench/send_path.py: the bench environment, its database, processes, load and counters.

Nothing here is imported by the service or the tests; processes and polling come from tests/processes.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from otpsite.processes import celery_worker_command
from tests.processes import Group, start_group, wait_for_port
from tests.processes import free_port as free_port

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent

# The bench's own PostgreSQL database and Redis databases, so it never touches a test run's data.
# Only BENCH_DATABASE_URL, BENCH_REDIS_URL and BENCH_BROKER_URL move them: a DATABASE_URL or
# REDIS_URL left in the shell for a test run is ignored, since the bench empties what it uses.
BENCH_TARGETS = {
    "DATABASE_URL": ("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/otpsvc_bench"),
    "REDIS_URL": ("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7"),
    "CELERY_BROKER_URL": ("BENCH_BROKER_URL", "redis://127.0.0.1:6379/8"),
}
# The rest of the bench environment. Send limits are raised so that no request is refused.
BENCH_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench._settings",
    "PYTHONUNBUFFERED": "1",
    # The console SMS provider is refused unless DEBUG=1; bench/_settings.py turns DEBUG off again.
    "DEBUG": "1",
    "SECRET_KEY": "bench-only-secret-key-which-is-long-enough-for-django-checks-0123456789",
    "SECURE_SSL_REDIRECT": "0",
    "MESSAGING_SMS_PROVIDERS": "console",
    "OTP_SEND_LIMIT_PER_RECIPIENT": "1000000",
    "OTP_SEND_LIMIT_PER_IP": "1000000000",
    "OTP_SEND_LIMIT_PER_TENANT": "1000000000",
    "OTP_RESEND_COOLDOWN_SECONDS": "0",
    "SMS_ANONYMOUS_HOURLY_BUDGET": "1000000000",
    "SMS_TENANT_HOURLY_BUDGET": "1000000000",
    "OTP_SEND_RECIPIENT_CAP": "1000000000",
    "SMS_PUMPING_PREFIX_MIN_UNVERIFIED": "1000000000",
    "SMS_PUMPING_PER_CLIENT": "1000000000",
    # Every bench number shares a few prefixes and none is verified: no country-wide attack mode either.
    "SMS_PUMPING_COUNTRY_MIN_UNVERIFIED": "1000000000",
    "SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK": "1000000000",
    "LOG_LEVEL": "INFO",
}
PROVIDER_CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "SENDGRID_API_KEY")


def configure_environment() -> None:
    """Point this process (and every child it starts) at the bench database, Redis dbs and settings."""
    for name, (override, default) in BENCH_TARGETS.items():
        os.environ[name] = os.environ.get(override) or default
    os.environ.update(BENCH_ENV)
    for name in PROVIDER_CREDENTIALS:
        os.environ.pop(name, None)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


# --- Database ------------------------------------------------------------------------------


def create_and_migrate_database(log_path: Path) -> str:
    """Create the bench database if it is missing, then run `manage.py migrate` on it."""
    import psycopg

    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1].split("?")[0]
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise SystemExit(f"refusing a database name that needs quoting: {name!r}")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    with open(log_path, "ab") as output:
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput"], cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, check=True
        )
    return name


def empty_bench_data() -> None:
    """Empty the message tables and both Redis databases between runs."""
    import redis
    from django.conf import settings
    from django.db import connection

    from messaging.models import CommunicationLog, DeliveryAttempt
    from otp.models import OneTimeCode

    tables = ", ".join(m._meta.db_table for m in (DeliveryAttempt, OneTimeCode, CommunicationLog))
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} CASCADE")
    for url in (settings.REDIS_URL, settings.CELERY_BROKER_URL):
        redis.Redis.from_url(url).flushdb()


# --- Child processes -----------------------------------------------------------------------


Child = Group  # a process in its own session (tests/processes.py), so it and all its children stop together


def start_child(name: str, argv: list[str], output_path: Path, **env: str) -> Child:
    return start_group(name, argv, output_path, env={**os.environ, **env})


@contextlib.contextmanager
def gunicorn(port: int, workers: int, output_path: Path) -> Iterator[Child]:
    """gunicorn as docker-compose runs it (sync workers), on 127.0.0.1 only."""
    argv = [
        str(BIN / "gunicorn"),
        "otpsite.wsgi:application",
        f"--bind=127.0.0.1:{port}",
        f"--workers={workers}",
        "--worker-class=sync",
        "--timeout=30",
        f"--chdir={ROOT}",
    ]
    child = start_child("gunicorn", argv, output_path)
    try:
        wait_for_port(port, timeout=30, alive=child)
        yield child
    finally:
        child.stop()


def start_worker(hostname: str, output_path: Path, concurrency: int | None, pool: str = "", **env: str) -> Child:
    """A Celery worker as docker-compose runs it (the app's pool and size unless told), plus the bench's tasks."""
    argv = celery_worker_command(
        concurrency=concurrency,
        hostname=hostname,
        options=["--include=bench._baseline", "--without-gossip", "--without-mingle"],
    )
    if pool:
        env = {**env, "CELERY_WORKER_POOL": pool}  # Celery 5 lets worker_pool win over --pool=prefork
    return start_child(hostname, argv, output_path, **env)


# --- Load generator ------------------------------------------------------------------------


#: One POST: path, headers, body.
Request = tuple[str, dict[str, str], bytes]


@dataclass
class LoadResult:
    seconds: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def accepted(self) -> int:
        """Requests answered 2xx."""
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds


def http_load(port: int, requests: Callable[[int], Iterable[Request]], *, threads: int, seconds: float) -> LoadResult:
    """POST each thread's `requests(thread)` to 127.0.0.1:port until `seconds` pass or they run out.

    Each thread reuses its connection while the server keeps it open (gunicorn's sync workers close
    it after every response, so in practice every request opens a new TCP connection).
    """
    result = LoadResult(seconds=0.0)
    lock = threading.Lock()
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def run(thread: int) -> None:
        statuses: Counter[int] = Counter()
        errors = 0
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start.wait()
        for path, headers, body in requests(thread):
            if time.perf_counter() >= deadline[0]:
                break
            try:
                conn.request("POST", path, body, headers)
                response = conn.getresponse()
                response.read()
                statuses[response.status] += 1
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
        conn.close()
        with lock:
            result.statuses.update(statuses)
            result.errors += errors

    workers = [threading.Thread(target=run, args=(t,), daemon=True) for t in range(threads)]
    for worker in workers:
        worker.start()
    began = time.perf_counter()
    deadline[0] = began + seconds
    start.wait()
    for worker in workers:
        worker.join(timeout=seconds + 30)
    result.seconds = time.perf_counter() - began
    return result


def json_posts(
    path: str, body: Callable[[int, int], dict[str, Any]], *, per_thread: int
) -> Callable[[int], Iterator[Request]]:
    """For http_load: thread t POSTs body(t, 0), body(t, 1), ... as JSON, at most `per_thread` of them."""
    headers = {"Content-Type": "application/json"}
    return lambda thread: ((path, headers, json.dumps(body(thread, i)).encode()) for i in range(per_thread))


# --- Counting Redis round trips -------------------------------------------------------------

_COMMAND_NAME = re.compile(rb"^\*\d+\r\n\$\d+\r\n([A-Za-z]+)")


class RoundTrips:
    """Counts every packet any redis-py connection in this process sends (a pipeline or script is one).

    Covers the service's own client and kombu's broker connections, which both use redis-py.
    """

    def __init__(self) -> None:
        self.commands: Counter[str] = Counter()
        self.total = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[RoundTrips]:
        import redis.connection

        cls = redis.connection.AbstractConnection
        original = cls.send_packed_command
        counter = self

        def send_packed_command(conn: Any, command: Any, check_health: bool = True) -> None:
            first = command if isinstance(command, bytes | str) else (command[0] if command else b"")
            first = first.encode() if isinstance(first, str) else bytes(first)
            match = _COMMAND_NAME.match(first)
            counter.commands[match.group(1).decode().upper() if match else "?"] += 1
            counter.total += 1
            original(conn, command, check_health)

        cls.send_packed_command = send_packed_command  # type: ignore[method-assign]
        try:
            yield self
        finally:
            cls.send_packed_command = original  # type: ignore[method-assign]


# --- Small statistics helpers ---------------------------------------------------------------


def median_time(call: Callable[[], Any], repeats: int, *, warmup: int = 20) -> float:
    """Median seconds of one call over `repeats` calls."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"
