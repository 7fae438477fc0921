"""Processes and polling, for the tests and the benchmarks (bench/ imports it too).

A process is started in a session of its own (`start_group`), so that it and every child it forks
stop together; its output goes to a file. Waiting is polling a condition until a deadline
(`wait_for`), never sleeping for a guessed time. Nothing here imports Django: tests/run_isolation.py
uses it before the settings are read.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


_handed_out: set[int] = set()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, and never one this run has handed
    out before: two calls in a row, before either port is in use, may otherwise get the same one."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    """Whether something accepts a TCP connection on host:port."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@dataclass
class Group:
    """A process started in its own session (`start_group`): it and its children stop together."""

    name: str
    popen: subprocess.Popen[bytes]
    output_path: Path

    @property
    def process(self) -> subprocess.Popen[bytes]:
        return self.popen

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole group at once (main process and children), as a crashed machine would."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def terminate(self, timeout: float = 60) -> None:
        """SIGTERM to the main process only (as an orchestrator stops a container: a Celery worker then
        waits for its pool children); the whole group is killed if it is not gone within `timeout`."""
        if self.running():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM to every process of the group; SIGKILL to the group after `timeout`."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()


def start_group(
    name: str,
    argv: Sequence[str],
    output_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path = ROOT,
) -> Group:
    """Start `argv` in a session of its own, stdout and stderr to `output_path`; `env` defaults to ours."""
    with open(output_path, "wb") as output:
        popen = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(os.environ if env is None else env),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Group(name=name, popen=popen, output_path=output_path)


def wait_for(
    condition: Callable[[], T],
    *,
    timeout: float = 30.0,
    what: str = "condition",
    every: float = 0.05,
    alive: Group | None = None,
) -> T:
    """Return condition()'s first truthy value, checking every `every` seconds until `timeout`.

    This waits for an event another process causes (a worker finishing), not for time. With `alive`,
    it fails at once, with the end of that process's output, if the process exits meanwhile.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if alive is not None and not alive.running():
            raise AssertionError(
                f"{alive.name} exited with {alive.popen.returncode} while waiting for {what}:\n{alive.output()[-3000:]}"
            )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def wait_for_port(port: int, *, timeout: float = 30.0, alive: Group | None = None, host: str = "127.0.0.1") -> None:
    """Until something listens on host:port (failing early if `alive` exits)."""
    name = alive.name if alive is not None else "a server"
    wait_for(lambda: port_answers(port, host), timeout=timeout, what=f"{name} to listen on {port}", alive=alive)
