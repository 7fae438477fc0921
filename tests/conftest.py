"""Shared fixtures: clean Redis, an SMTP sink, and real Celery worker processes."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage as ParsedEmail

import pytest
from aiosmtpd.controller import Controller
from django.conf import settings

from otpsite.processes import celery_worker_command
from otpsite.redis import get_redis
from tests.processes import ROOT as ROOT
from tests.processes import Group, start_group, wait_for
from tests.processes import free_port as free_port

pytest_plugins = ["tests.standins.fixtures", "tests.workers.chaos_stack", "tests.scale.redis_servers"]


@pytest.fixture(autouse=True)
def clean_redis() -> Iterator[None]:
    """Every test starts with no breaker, limit or quota state (the broker lives in another db)."""
    get_redis().flushdb()
    yield


@pytest.fixture
def redis_unreachable(settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point this process at a closed port (the shared Redis server keeps running for others).

    The breaker module's per-process fallback state starts empty.
    """
    from messaging import breaker as breaker_module
    from messaging.breaker_store import LocalStore

    monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
    monkeypatch.setattr(breaker_module, "_redis_down_until", {})
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    yield


# --- SMTP sink ----------------------------------------------------------------------------


@dataclass
class SmtpSink:
    host: str
    port: int
    messages: list[ParsedEmail] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    reject_with: str | None = None
    # Answers to give at RCPT, one per recipient offered, before the sink accepts again (greylisting).
    refuse_first: list[str] = field(default_factory=list)
    # A content filter: given the DATA bytes, a refusal to answer with (None accepts the message).
    reject_data: Callable[[bytes], str | None] | None = None
    # While set, DATA is never answered: the sender hangs mid-send (a worker can be killed there).
    hold_data: bool = False
    data_started: threading.Event = field(default_factory=threading.Event)
    received: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject_with:
            return self.reject_with
        if self.refuse_first:
            return self.refuse_first.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_started.set()
        if self.hold_data:
            await asyncio.Event().wait()
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        refusal = self.reject_data(envelope.content) if self.reject_data else None
        if refusal:
            return refusal
        with self.received:
            self.messages.append(parsed)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
            self.received.notify_all()
        return "250 Message accepted"

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ParsedEmail]:
        """Block until `count` messages have arrived (woken by the sink, not by polling)."""
        with self.received:
            self.received.wait_for(lambda: len(self.messages) >= count, timeout=timeout)
            return list(self.messages)


@pytest.fixture
def smtp_sink(settings) -> Iterator[SmtpSink]:
    """An aiosmtpd server on 127.0.0.1; settings point the SMTP provider at it."""
    sink = SmtpSink(host="127.0.0.1", port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    settings.SMTP_HOST = sink.host
    settings.SMTP_PORT = sink.port
    try:
        yield sink
    finally:
        controller.stop()


# --- Celery worker processes ---------------------------------------------------------------


@dataclass
class WorkerProcess(Group):
    """A `celery worker` in its own process group (kill() takes its pool children too)."""

    hostname: str = ""

    def stop(self, timeout: float = 15) -> None:
        self.terminate(timeout)  # warm shutdown: the main process waits for its pool children


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def wait_until_worker_answers(worker: WorkerProcess, broker_url: str, timeout: float = 60.0) -> None:
    """Ping the worker through the test broker; on a broker of a test's own, wait for its "ready" line."""
    from otpsite.celery import app

    def answers() -> object:
        if broker_url == settings.CELERY_BROKER_URL:
            return app.control.ping(destination=[worker.hostname], timeout=0.5)
        return f"{worker.hostname} ready." in worker.output()

    wait_for(answers, timeout=timeout, what=f"worker {worker.hostname} to answer", alive=worker)


@pytest.fixture
def start_worker(django_db_setup, django_db_blocker, tmp_path) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real `celery worker` processes on the test database; stop them afterwards.

    The pool is the app's own (CELERY_WORKER_POOL, threads) unless `pool` names another; the worker
    consumes every queue. Keyword arguments become environment variables of the worker (e.g.
    SMTP_PORT="2525").
    """
    started: list[WorkerProcess] = []

    def start(concurrency: int = 2, pool: str = "", **env_overrides: str) -> WorkerProcess:
        hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "SMTP_HOST": settings.SMTP_HOST,
            "SMTP_PORT": str(settings.SMTP_PORT),
            "CONSOLE_SMS_OUTPUT": settings.CONSOLE_SMS_OUTPUT,
            "PYTHONUNBUFFERED": "1",
            **({"CELERY_WORKER_POOL": pool} if pool else {}),
            **env_overrides,
        }
        command = celery_worker_command(
            concurrency=concurrency, hostname=hostname, options=["--without-gossip", "--without-mingle"]
        )
        group = start_group(hostname, command, tmp_path / f"{hostname.split('@')[0]}.log", env=env)
        worker = WorkerProcess(group.name, group.popen, group.output_path, hostname=hostname)
        started.append(worker)
        wait_until_worker_answers(worker, env["CELERY_BROKER_URL"])
        return worker

    yield start
    for worker in started:
        worker.stop()
