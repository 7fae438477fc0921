"""docker-compose.yml run for real under podman, for tests/deploy/test_compose_stack.py.

The stack is the production file plus deploy/compose/test-override.yml, driven by Docker Compose
(v2, the `docker-compose` of requirements-dev.txt) against podman's Docker API socket, with
deploy/compose/containers.conf. Compose itself orders the start (healthy databases, then migrate
to a zero exit, then the rest); podman runs healthchecks only through systemd timers, so while
`up` waits, this module runs them (`podman healthcheck run`) as those timers would. Each run has
its own project name, ports, secrets and API socket, so two runs on one machine do not collide;
the image tag is one per checkout, so podman's layer cache carries over from run to run.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from tests import processes
from tests.processes import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_DIR = ROOT / "deploy" / "compose"
DOCKER_COMPOSE = Path(sys.executable).parent / "docker-compose"
HEALTHCHECKED = ("postgres", "redis", "rabbitmq")
PODMAN_START_RACE = "/cgroup: no such process"
T = TypeVar("T")


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(COMPOSE_DIR / "containers.conf")}


def why_podman_cannot_run() -> str | None:
    """None when podman can run containers here, else the reason."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/ensure-test-tools.sh installs it)"
    if not DOCKER_COMPOSE.exists():
        return f"docker-compose is not installed in this virtualenv ({DOCKER_COMPOSE})"
    probe = subprocess.run(["podman", "info"], env=podman_env(), capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"podman cannot run here: {probe.stderr.strip()[-300:]}"
    return None


def image_tag() -> str:
    """One tag per checkout: reruns reuse its layers, other checkouts do not overwrite it."""
    return "localhost/otpsvc-test/app:" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """tests.processes.wait_for every half second (each probe here runs podman or an HTTP call)."""
    return processes.wait_for(probe, timeout=timeout, what=what, every=0.5)  # type: ignore[return-value]


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(url: str, *, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> HttpAnswer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with _OPENER.open(request, timeout=15) as response:
            return HttpAnswer(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read())
    except urllib.error.HTTPError as error:
        return HttpAnswer(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read())


@dataclass
class ComposeStack:
    workdir: Path
    project: str = field(default_factory=lambda: f"otpsvc-test-{secrets.token_hex(4)}")
    web_port: int = field(default_factory=free_port)
    flower_port: int = field(default_factory=free_port)
    flower_login: str = field(default_factory=lambda: f"ops:{secrets.token_urlsafe(12)}")
    metrics_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    postgres_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    # Set by a test that stops, downs or removes part of the stack: the next test gets a fresh one.
    disturbed: bool = False

    def __post_init__(self) -> None:
        self.socket = self.workdir / "podman.sock"
        self.service: subprocess.Popen[bytes] | None = None
        # Secrets go to the compose process through an env file, not its command line.
        self.env_file = self.workdir / "compose.env"
        values = {
            "OTPSVC_IMAGE": image_tag(),
            "SECRET_KEY": secrets.token_urlsafe(50),
            "POSTGRES_PASSWORD": self.postgres_password,
            "RABBITMQ_PASSWORD": secrets.token_urlsafe(16),
            "FLOWER_BASIC_AUTH": self.flower_login,
            "METRICS_TOKEN": self.metrics_token,
            "WEB_PORT": str(self.web_port),
            "FLOWER_PORT": str(self.flower_port),
        }
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        self.env_file.chmod(0o600)

    # --- driving ---

    def build_image(self) -> None:
        self._run([str(COMPOSE_DIR / "build-image.sh"), image_tag()], timeout=1200)

    def start_api(self) -> None:
        """podman's Docker API on this run's own socket, for Compose."""
        self.service = subprocess.Popen(
            ["podman", "system", "service", "--time=0", f"unix://{self.socket}"],
            env=podman_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for("podman's API socket", lambda: True if self.socket.exists() else None, timeout=30)

    def stop_api(self) -> None:
        if self.service is not None:
            self.service.terminate()
            self.service.wait(timeout=30)
            self.service = None

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(COMPOSE_DIR / "test-override.yml")]
        base = [str(DOCKER_COMPOSE), "--project-name", self.project, "--env-file", str(self.env_file), *files]
        return self._run([*base, *args], check=check, timeout=timeout)

    def up(self, *services: str) -> None:
        """`docker compose up -d`, with the healthchecks run while Compose waits on them."""
        done = threading.Event()
        runner = threading.Thread(target=self._run_healthchecks, args=(done,), daemon=True)
        runner.start()
        try:
            try:
                self.compose("up", "-d", "--no-build", *services)
            except AssertionError as failure:
                if PODMAN_START_RACE not in str(failure):
                    raise
                # podman 4.3 under load can lose the race to read a starting container's cgroup;
                # `up` again starts only what is not running (a real failure fails again).
                self.compose("up", "-d", "--no-build", *services)
        except AssertionError as failure:
            raise AssertionError(f"{failure}\nmigrate's log:\n{self.logs('migrate')[-3000:]}") from None
        finally:
            done.set()
            runner.join()

    def _run_healthchecks(self, done: threading.Event) -> None:
        while not done.wait(1.0):
            for service in HEALTHCHECKED:
                self.podman("healthcheck", "run", self.container(service), check=False)

    def podman(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self._run(["podman", *args], check=check, timeout=timeout)

    def _run(self, cmd: list[str], *, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        env = {**podman_env(), "DOCKER_HOST": f"unix://{self.socket}", "DOCKER_BUILDKIT": "0"}
        result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(cmd[:6])}... exited {result.returncode}:\n{result.stderr[-3000:]}")
        return result

    # --- looking ---

    def container(self, service: str) -> str:
        return f"{self.project}-{service}-1"

    def logs(self, service: str) -> str:
        result = self.podman("logs", self.container(service), check=False)
        return result.stdout + result.stderr

    def exit_code(self, service: str) -> int | None:
        """The container's exit code once it has stopped, None while it runs."""
        state = json.loads(self.podman("inspect", "--format", "{{json .State}}", self.container(service)).stdout)
        return None if state["Running"] else int(state["ExitCode"])

    def state(self, service: str) -> dict[str, Any]:
        """The container's State (podman inspect), times as comparable UTC nanoseconds."""
        fmt = "{{json .State}}|{{.State.StartedAt.UnixNano}}|{{.State.FinishedAt.UnixNano}}"
        raw, started, finished = self.podman("inspect", "--format", fmt, self.container(service)).stdout.split("|")
        return {**json.loads(raw), "StartedAt": int(started), "FinishedAt": int(finished)}

    def psql(self, sql: str) -> str:
        result = self.podman("exec", self.container("postgres"), "psql", "-U", "otp", "-d", "otp", "-tAc", sql)
        return result.stdout.strip()

    def leftovers(self) -> dict[str, list[str]]:
        """This project's containers, volumes and networks that still exist."""
        label = f"label=com.docker.compose.project={self.project}"
        found = {
            "containers": self.podman("ps", "-a", "--filter", label, "--format", "{{.Names}}").stdout.split(),
            "volumes": self.podman("volume", "ls", "--filter", label, "--format", "{{.Name}}").stdout.split(),
            "networks": [
                name
                for name in self.podman("network", "ls", "--format", "{{.Name}}").stdout.split()
                if name.startswith(f"{self.project}_")
            ],
        }
        return {kind: names for kind, names in found.items() if names}

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web_port}{path}"

    def flower_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.flower_port}{path}"

    def mail_to(self, recipient: str) -> list[EmailMessage]:
        """Messages the SMTP sink printed for ``recipient``, oldest first."""
        blocks = re.findall(
            r"-{10} MESSAGE FOLLOWS -{10}\n(.*?)\n-{12} END MESSAGE -{12}", self.logs("smtp-sink"), flags=re.S
        )
        parsed = [email.message_from_string(block, policy=email.policy.default) for block in blocks]
        return [m for m in parsed if isinstance(m, EmailMessage) and recipient in str(m.get("To", ""))]
