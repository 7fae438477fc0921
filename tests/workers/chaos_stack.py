"""A whole service of a test's own, every part of which a chaos test may kill and restart.

A private PostgreSQL cluster (initdb and pg_ctl, run as the postgres user; one per test run, one
database per test, copied from a migrated template), a private redis-server, and real web
(gunicorn), worker and beat processes, all with the project's default delivery settings. Mail
goes to an SMTP sink that can hold DATA, so a worker can be caught in the middle of a send.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from aiosmtpd.controller import Controller

from otpsite.processes import celery_worker_command
from tests.conftest import ROOT, SmtpSink
from tests.helpers import code_in, missing_tool
from tests.processes import Group as Process
from tests.processes import free_port, start_group, wait_for
from tests.workers.test_broker_outage import PrivateRedis


def _postgres_bin() -> Path:
    """Where initdb and pg_ctl are: pg_config's bindir, else Debian's newest server's, else /usr/bin."""
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True).stdout.strip()
        if found and (Path(found) / "initdb").exists():
            return Path(found)
    servers = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0
    )
    return servers[-1].parent if servers else Path("/usr/bin")


PG_BIN = _postgres_bin()


class PrivatePostgres:
    """A PostgreSQL cluster in a temporary directory, owned by the postgres user; trust auth."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="otpsvc-chaos-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        shutil.chown(self.root, user="postgres")
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres")

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.root / "postgres.log")  # not a pipe: the server outlives pg_ctl
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start")

    def ensure_running(self) -> None:
        status = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=60,
        )
        if status.returncode != 0:
            self.start()

    def stop(self) -> None:
        """An immediate stop: every backend is killed, as in a crash."""
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class HoldingSink(SmtpSink):
    """An SMTP sink that, once `hold_after` messages arrived, holds DATA until released.

    A held message whose client went away (a killed worker) is not counted: the provider never
    confirmed it. One released while its client waits is accepted as usual. With `hold_port`, only
    sessions to that port are held (the sink may listen on a second port, see `listen`).
    """

    hold_after: int | None = None
    hold_port: int | None = None
    held: int = 0
    released: bool = False
    per_recipient: dict[str, int] = field(default_factory=dict)
    arrived_at: dict[str, float] = field(default_factory=dict)  # time.monotonic() of each one's last
    held_for: list[str] = field(default_factory=list)  # the recipients of the held messages
    held_sessions: list = field(default_factory=list)

    def _holds(self, server) -> bool:
        if self.hold_after is None or len(self.messages) + self.held < self.hold_after:
            return False
        return self.hold_port is None or server.transport.get_extra_info("sockname")[1] == self.hold_port

    async def handle_DATA(self, server, session, envelope):
        with self.received:
            holding = self._holds(server)
            if holding:
                self.held += 1
                self.held_sessions.append(server)
                self.held_for.extend(envelope.rcpt_tos)
        while holding and not self.released:
            await asyncio.sleep(0.05)
        if holding and (server.transport is None or server.transport.is_closing()):
            return "451 client gone"
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.received:
            self.messages.append(parsed)  # type: ignore[arg-type]
            for to in envelope.rcpt_tos:
                self.per_recipient[to] = self.per_recipient.get(to, 0) + 1
                self.arrived_at[to] = time.monotonic()
            self.received.notify_all()
        return "250 Message accepted"

    @contextlib.contextmanager
    def listen(self) -> Iterator[int]:
        """The sink on a second port of its own, for as long as the block runs: its port."""
        port = free_port()
        controller = Controller(self, hostname=self.host, port=port)
        controller.start()
        try:
            yield port
        finally:
            controller.stop()

    def release(self) -> None:
        self.released = True

    def held_clients_gone(self) -> bool:
        """True once every held session's client has closed its connection (its worker died)."""
        return all(server.transport is None or server.transport.is_closing() for server in self.held_sessions)

    def codes_by_recipient(self) -> dict[str, str]:
        """The last code each recipient received."""
        with self.received:
            return {str(m["To"]): code_in(m.get_body(("plain",)).get_content()) for m in self.messages}


@dataclass
class Stack:
    """One test's service: its database, Redis, SMTP sink and processes; env is what they all get."""

    postgres: PrivatePostgres
    database: str
    redis: PrivateRedis
    sink: HoldingSink
    directory: Path
    env: dict[str, str]
    web_port: int = 0
    processes: list[Process] = field(default_factory=list)

    @property
    def web(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _spawn(self, name: str, command: list[str], **env_overrides: str) -> Process:
        path = self.directory / f"{name}-{len(self.processes)}.log"
        process = start_group(name, command, path, env={**self.env, **env_overrides})
        self.processes.append(process)
        return process

    def start_web(self, workers: int = 2) -> Process:
        self.web_port = self.web_port or free_port()
        command = [sys.executable, "-m", "gunicorn", "otpsite.wsgi:application", "--workers", str(workers)]
        web = self._spawn("web", [*command, "--bind", f"127.0.0.1:{self.web_port}", "--timeout", "30"])
        wait_for(lambda: self._answers("/health/messaging"), timeout=60, what="the web process to answer")
        return web

    def start_worker(self, **env_overrides: str) -> Process:
        hostname = f"chaos-{uuid.uuid4().hex[:6]}@localhost"
        command = celery_worker_command(hostname=hostname, options=["--without-gossip", "--without-mingle"])
        worker = self._spawn("worker", command, **env_overrides)
        wait_for(
            lambda: f"{hostname} ready." in worker.output() or worker.popen.poll() is not None,
            timeout=60,
            what="the worker to be ready",
        )
        assert worker.popen.poll() is None, worker.output()
        return worker

    def start_beat(self) -> Process:
        schedule = self.directory / f"beat-schedule-{len(self.processes)}"
        command = [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel=INFO", f"--schedule={schedule}"]
        beat = self._spawn("beat", command)
        wait_for(lambda: "beat: Starting" in beat.output(), timeout=60, what="beat to start")
        return beat

    def _answers(self, path: str) -> bool:
        try:
            urllib.request.urlopen(self.web + path, timeout=10).close()
        except urllib.error.HTTPError:
            return True
        except OSError:
            return False
        return True

    def post(self, path: str, body: dict) -> tuple[int, dict, float]:
        """POST JSON to the web process; returns (status, body, seconds taken)."""
        request = urllib.request.Request(
            self.web + path, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw), time.monotonic() - started

    def get(self, path: str) -> tuple[int, dict, float]:
        started = time.monotonic()
        try:
            with urllib.request.urlopen(self.web + path, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw), time.monotonic() - started

    def send(self, recipient: str) -> int:
        return self.post("/api/v1/auth/otp/send", {"email": recipient, "purpose": "login"})[0]

    def verify(self, recipient: str, code: str) -> int:
        return self.post("/api/v1/auth/otp/verify", {"email": recipient, "purpose": "login", "code": code})[0]

    def log_statuses(self) -> dict[str, int]:
        rows = self.postgres.execute("SELECT status, count(*) FROM communication_logs GROUP BY status", self.database)
        return {status: count for status, count in rows}

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.kill()


def report(what: str, seconds: float, **numbers: object) -> None:
    """One line per chaos test, for bench/README.md's table (shown with pytest -s or -rA)."""
    extra = " ".join(f"{name}={value}" for name, value in numbers.items())
    print(f"\nRECOVERY {what}: {seconds:.1f}s {extra}".rstrip(), flush=True)


@pytest.fixture(scope="session")
def chaos_postgres() -> Iterator[PrivatePostgres]:
    """One private cluster per test run, with a migrated template database."""
    if shutil.which("runuser") is None or not (PG_BIN / "initdb").exists():
        missing_tool("initdb/pg_ctl or runuser is not installed")
    server = PrivatePostgres()
    server.start()
    server.execute("CREATE DATABASE otp_template")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": server.url("otp_template")}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    yield server
    server.destroy()


@pytest.fixture
def chaos_stack(chaos_postgres, tmp_path) -> Iterator[Stack]:
    """A fresh database, Redis and SMTP sink; the test starts the processes it needs."""
    database = f"otp_{uuid.uuid4().hex[:8]}"
    chaos_postgres.execute(f"CREATE DATABASE {database} TEMPLATE otp_template")
    redis_server = PrivateRedis(tmp_path)
    redis_server.start()
    sink = HoldingSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    base = redis_server.url.removesuffix("/0")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": chaos_postgres.url(database),
        # Production's connection reuse, so a reconnect after an outage is part of what is tested.
        "DATABASE_CONN_MAX_AGE": "60",
        "REDIS_URL": f"{base}/0",
        "CELERY_BROKER_URL": f"{base}/1",
        "MESSAGING_EMAIL_PROVIDERS": "smtp",
        "SMTP_HOST": sink.host,
        "SMTP_PORT": str(sink.port),
        "PYTHONUNBUFFERED": "1",
    }
    # The project's delivery defaults (.env.example), not the fast retries of the other tests.
    env.update(
        OTP_RETRY_BACKOFF_BASE="5",
        OTP_RETRY_BACKOFF_MAX="120",
        OTP_DELIVERY_MAX_RETRIES="6",
        PROVIDER_CONNECT_TIMEOUT="3",
        PROVIDER_READ_TIMEOUT="5",
    )
    stack = Stack(
        postgres=chaos_postgres, database=database, redis=redis_server, sink=sink, directory=tmp_path, env=env
    )
    try:
        yield stack
    finally:
        sink.release()
        stack.stop()
        controller.stop()
        redis_server.stop()
        chaos_postgres.ensure_running()
        chaos_postgres.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
