"""`make run`: the whole stack on one machine, as a newcomer starts it (the script behind the target)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from base64 import b64encode
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from tests.helpers import wait_for
from tests.metrics_helpers import Scrape

pytestmark = pytest.mark.integration

# Only what a shell would have: no test settings, no DATABASE_URL, no REDIS_URL.
INHERITED = ("PATH", "HOME", "LANG", "TMPDIR")


def post_json(url: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def command_lines_holding(secret: str) -> list[str]:
    """Every process's command line (what `ps` shows) that contains `secret`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # the process ended meanwhile
        if secret in text:
            found.append(text)
    return found


# What a newcomer is promised: `make run` serves the signup page this soon on a fresh clone.
COLD_START_SECONDS = 60


def test_make_run_serves_the_signup_flow_on_embedded_postgres_and_redis_and_stops_on_ctrl_c(tmp_path):
    names = ("WEB_PORT", "FLOWER_PORT", "SMTP_SINK_PORT", "EMBEDDED_REDIS_PORT", "EMBEDDED_POSTGRES_PORT")
    ports = {name: free_port() for name in (*names, "WORKER_METRICS_PORT")}
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update({name: str(port) for name, port in ports.items()})
    env.update(DEVSTACK_RUN_DIR=str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o755)
    for secret in ("flower-password", "admin-password"):  # as an earlier version left them: world-readable
        (tmp_path / "run" / secret).write_text("left-by-an-earlier-run\n")
        (tmp_path / "run" / secret).chmod(0o644)
    stack = subprocess.Popen(
        [sys.executable, "scripts/devstack.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []

    def read_output() -> None:
        assert stack.stdout is not None
        for raw in stack.stdout:
            lines.append(raw.decode(errors="replace"))

    reader = threading.Thread(target=read_output)
    reader.start()
    web = f"http://127.0.0.1:{ports['WEB_PORT']}"
    try:
        # A cold start: initdb of a new .run/postgres, every migration, then every process.
        wait_for(
            lambda: any("Signup page" in line for line in lines) or stack.poll() is not None,
            timeout=COLD_START_SECONDS,
            what="make run to print its addresses",
        )
        assert stack.poll() is None, "".join(lines)
        assert (tmp_path / "run" / "postgres" / "PG_VERSION").is_file()
        flower_login = re.search(r"Flower: .*\(user (\S+), password (\S+)\)", "".join(lines))

        assert get(f"{web}/signup/")[0] == 200
        assert (
            post_json(f"{web}/api/v1/auth/otp/send", {"email": "newcomer@example.com", "purpose": "signup"})[0] == 202
        )
        found = wait_for(
            lambda: re.search(r"\[smtp\] Your OTP Service code is (\d{6})", "".join(lines)),
            what="the email in the SMTP sink's output",
        )
        verified = post_json(
            f"{web}/api/v1/auth/otp/verify",
            {"email": "newcomer@example.com", "purpose": "signup", "code": found.group(1)},
        )
        assert (verified[0], verified[1]["verified"]) == (200, True)
        assert flower_login, "make run printed no Flower login"
        token = b64encode(f"{flower_login.group(1)}:{flower_login.group(2)}".encode()).decode()
        flower = f"http://127.0.0.1:{ports['FLOWER_PORT']}/api/workers"
        assert get(flower)[0] == 401
        assert get(flower, {"Authorization": f"Basic {token}"})[0] == 200
        assert command_lines_holding(flower_login.group(2)) == [], "the Flower password is visible to ps"

        # The SMTP sink prints the email decoded, with the code on a line of its own.
        smtp_lines = [line for line in "".join(lines).splitlines() if line.startswith("[smtp]")]
        assert f"[smtp] >>> CODE: {found.group(1)} <<<" in smtp_lines
        assert not any("=3D" in line or line.endswith("=") for line in smtp_lines)
        run_dir = tmp_path / "run"
        for secret in ("admin-password", "flower-password", "metrics-token"):
            assert stat.S_IMODE((run_dir / secret).stat().st_mode) == 0o600, secret
        assert stat.S_IMODE(run_dir.stat().st_mode) == 0o700

        # make run's .run/env takes a management command to the same database and Redis, from a plain shell;
        # the admin password file holds just the password.
        shown = subprocess.run(
            [sys.executable, "manage.py", "shell", "-v", "0", "-c",
             "from django.conf import settings; from django.db import connection;"
             " print(settings.REDIS_URL, connection.settings_dict['PORT'], connection.vendor,"
             " connection.cursor().execute('SELECT current_database()').fetchone()[0])"],
            cwd=ROOT, env={**{n: os.environ[n] for n in INHERITED if n in os.environ},
                           "DEVSTACK_RUN_DIR": str(run_dir)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.split() == [
            f"redis://127.0.0.1:{ports['EMBEDDED_REDIS_PORT']}/0",
            str(ports["EMBEDDED_POSTGRES_PORT"]),
            "postgresql",
            "otp",
        ]
        assert stat.S_IMODE((run_dir / "env").stat().st_mode) == 0o600
        admin_password = (run_dir / "admin-password").read_text()
        assert re.fullmatch(r"[A-Za-z0-9_-]{16}\n", admin_password), admin_password

        # The web's /metrics counts its send, the worker's its delivery, behind the token make run made.
        metrics_token = (run_dir / "metrics-token").read_text().strip()
        worker_metrics = f"http://127.0.0.1:{ports['WORKER_METRICS_PORT']}/metrics"
        assert get(f"{web}/metrics")[0] == 401 and get(worker_metrics)[0] == 401
        status, body = get(f"{web}/metrics", {"Authorization": f"Bearer {metrics_token}"})
        assert status == 200
        assert Scrape(body.decode()).value("otp_sends_total", channel="email", result="accepted") == 1
        status, body = get(worker_metrics, {"Authorization": f"Bearer {metrics_token}"})
        assert status == 200
        assert Scrape(body.decode()).value("messaging_messages_total", channel="email", status="sent") == 1
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGINT)  # Ctrl-C in the terminal goes to the whole group
        stack.wait(timeout=60)
        reader.join(timeout=10)

    assert stack.returncode == 0
    assert not (tmp_path / "run" / "env").exists()  # its Redis is gone, so is the file that pointed there
    assert any("[postgres]" in line and "database system is shut down" in line for line in lines)
    for port in ports.values():
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
