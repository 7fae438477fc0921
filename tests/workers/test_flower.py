"""Flower, as `make run` and docker-compose start it: basic auth, and delivered OTP tasks listed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from tests import conftest

LOGIN = ("ops", "flower-test-password")
TIMEOUT = 60.0


@dataclass
class Flower:
    url: str
    process: subprocess.Popen[bytes]
    output_path: Path

    def get(self, path: str, *, auth: tuple[str, str] | None = LOGIN) -> requests.Response:
        return requests.get(f"{self.url}{path}", auth=auth, timeout=10)


def wait_for(condition: Callable[[], Any], *, what: str, flower: Flower) -> Any:
    """Poll until condition() returns something truthy (Flower learns of events asynchronously)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if flower.process.poll() is not None:
            raise AssertionError(f"flower exited: {flower.output_path.read_text(errors='replace')}")
        try:
            value = condition()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}: {flower.output_path.read_text(errors='replace')[-2000:]}")


@pytest.fixture
def flower(tmp_path: Path) -> Iterator[Flower]:
    port = conftest.free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": conftest.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "FLOWER_BASIC_AUTH": f"{LOGIN[0]}:{LOGIN[1]}",  # as make run and compose pass it: not on the command line
    }
    output_path = tmp_path / "flower.log"
    with open(output_path, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "workers.flower", "--address=127.0.0.1", f"--port={port}"],
            cwd=conftest.ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Flower(url=f"http://127.0.0.1:{port}", process=process, output_path=output_path)
    try:
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def delivered_otp_tasks(flower: Flower) -> list[dict[str, Any]]:
    tasks = flower.get("/api/tasks?taskname=workers.tasks.deliver_otp").json()
    return [task for task in tasks.values() if task.get("state") == "SUCCESS"]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_flower_requires_basic_auth_and_lists_a_delivered_otp_task(client, smtp_sink, start_worker, flower) -> None:
    worker = start_worker(concurrency=1, CELERY_WORKER_SEND_TASK_EVENTS="1")

    # Flower has the worker's heartbeats, so its event receiver will see the task's events too.
    def worker_seen() -> bool:
        return flower.get("/api/workers?status=1").json().get(worker.hostname) is True

    wait_for(worker_seen, what="flower to hear the worker", flower=flower)
    assert flower.get("/api/workers", auth=None).status_code == 401
    assert flower.get("/api/workers", auth=(LOGIN[0], "wrong")).status_code == 401

    def worker_inspected() -> bool:
        workers = flower.get("/api/workers?refresh=1")
        assert workers.status_code == 200
        return worker.hostname in workers.json()

    wait_for(worker_inspected, what="flower's inspection of the worker", flower=flower)

    response = client.post(
        "/api/v1/auth/otp/send", {"email": "flower@example.com", "purpose": "login"}, content_type="application/json"
    )
    assert response.status_code == 202
    code = re.search(r"\b(\d{6})\b", smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content()).group(1)

    tasks = wait_for(lambda: delivered_otp_tasks(flower), what="the delivered task in flower", flower=flower)
    assert len(tasks) == 1
    assert tasks[0]["worker"] == worker.hostname
    # The task carries an id, never the code: nothing Flower shows holds it.
    task_page = flower.get("/api/tasks").text
    assert code not in task_page


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_by_default_flower_lists_the_worker_but_it_sends_no_task_events(client, smtp_sink, start_worker, flower):
    worker = start_worker(concurrency=1)  # CELERY_WORKER_SEND_TASK_EVENTS unset: off

    wait_for(
        lambda: flower.get("/api/workers?status=1").json().get(worker.hostname) is True,
        what="flower to hear the worker's heartbeats",
        flower=flower,
    )
    response = client.post(
        "/api/v1/auth/otp/send", {"email": "quiet@example.com", "purpose": "login"}, content_type="application/json"
    )
    assert response.status_code == 202
    smtp_sink.wait_for(1)

    def deliveries_done() -> int:
        stats = flower.get("/api/workers?refresh=1").json().get(worker.hostname, {}).get("stats", {})
        return int(stats.get("total", {}).get("workers.tasks.deliver_otp", 0))

    # The worker says it ran the task (over the broker, after any event of it would have gone).
    assert wait_for(deliveries_done, what="the worker's count of the delivery", flower=flower) == 1
    assert delivered_otp_tasks(flower) == []
    assert flower.get("/api/tasks").json() == {}


@pytest.mark.integration
@pytest.mark.parametrize("path", ["/metrics", "/healthcheck", "/", "/api/workers", "/api/tasks", "/tasks"])
def test_every_flower_page_including_metrics_asks_for_the_login(flower, path) -> None:
    wait_for(lambda: flower.get("/api/workers").status_code == 200, what="flower to answer", flower=flower)
    assert flower.get(path, auth=None).status_code == 401
    assert flower.get(path, auth=(LOGIN[0], "wrong")).status_code == 401
    answer = flower.get(path)
    assert answer.status_code == 200
    if path == "/metrics":
        assert "flower_" in answer.text


def test_compose_publishes_flower_on_the_loopback_only() -> None:
    compose = (conftest.ROOT / "docker-compose.yml").read_text()
    flower_service = compose.split("\n  flower:\n", 1)[1].split("\n\n", 1)[0]
    assert '"127.0.0.1:5555:5555"' in flower_service
    assert "python -m workers.flower" in flower_service
