"""A worker node's own GET /metrics (observability/worker_endpoint.py), served in this process."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from messaging.metrics import task_finished
from observability.worker_endpoint import start_worker_metrics, stop_worker_metrics
from tests.conftest import free_port
from tests.metrics_helpers import TOKEN, Scrape


def get(port: int, path: str = "/metrics", token: str | None = TOKEN) -> tuple[int, dict[str, str], str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.fixture
def endpoint(settings) -> Iterator[int]:
    settings.METRICS_TOKEN = TOKEN
    settings.WORKER_METRICS_HOST, settings.WORKER_METRICS_PORT = "127.0.0.1", free_port()
    assert start_worker_metrics() is not None
    try:
        yield settings.WORKER_METRICS_PORT
    finally:
        stop_worker_metrics()


def test_the_worker_serves_its_own_counters_with_the_token(endpoint):
    before = Scrape(get(endpoint)[2]).value("messaging_worker_tasks_total", task="workers.tasks.deliver_otp")
    task_finished("workers.tasks.deliver_otp", "SUCCESS")

    status, headers, body = get(endpoint)

    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    scrape = Scrape(body)
    assert scrape.value("messaging_worker_tasks_total", task="workers.tasks.deliver_otp") == before + 1
    # Figures read from Redis and PostgreSQL come from the web nodes only: no second copy to sum.
    assert "messaging_breaker_state" not in scrape.names and "messaging_queue_depth" not in scrape.names


def test_the_worker_refuses_a_scrape_without_the_token_or_with_a_wrong_one(endpoint):
    missing, wrong = get(endpoint, token=None), get(endpoint, token=TOKEN[:-1] + "x")

    assert missing[0] == 401 and missing[1]["WWW-Authenticate"].startswith("Bearer")
    assert wrong[0] == 403 and "messaging_" not in wrong[2]
    assert get(endpoint, path="/")[0] == 404


def test_no_port_or_no_token_serves_nothing(settings, caplog):
    settings.WORKER_METRICS_PORT = 0
    settings.METRICS_TOKEN = TOKEN
    assert start_worker_metrics() is None

    settings.WORKER_METRICS_HOST, settings.WORKER_METRICS_PORT = "127.0.0.1", free_port()
    settings.METRICS_TOKEN = ""
    assert start_worker_metrics() is None
    assert "METRICS_TOKEN is not" in caplog.text
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", settings.WORKER_METRICS_PORT), timeout=0.5).close()


def test_a_port_in_use_leaves_the_worker_running_without_metrics(settings, caplog):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings.METRICS_TOKEN = TOKEN
        settings.WORKER_METRICS_HOST, settings.WORKER_METRICS_PORT = "127.0.0.1", taken.getsockname()[1]

        assert start_worker_metrics() is None
    assert "could not listen" in caplog.text
