"""Celery's INFO lines per task ("received", "succeeded in") only with CELERY_WORKER_LOG_TASKS;
the delivery's own attempt line always (otpsite/settings.py, LOGGING)."""

from __future__ import annotations

import pytest

from tests.helpers import SEND_URL, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def sent_lines(output: str) -> int:
    return sum("messaging.attempt" in line and "outcome=sent" in line for line in output.splitlines())


@pytest.mark.parametrize("asked", ["0", "1"])
def test_celerys_line_per_task_only_when_asked_and_the_attempts_line_always(client, smtp_sink, start_worker, asked):
    # One thread: the first task has written all its lines before the second one starts.
    worker = start_worker(concurrency=1, CELERY_WORKER_LOG_TASKS=asked)

    for n in range(2):
        body = {"email": f"user{n}@example.com", "purpose": "signup"}
        assert client.post(SEND_URL, body, content_type="application/json").status_code == 202
        wait_for(lambda n=n: sent_lines(worker.output()) == n + 1, what=f"delivery {n + 1}'s attempt line")

    output = worker.output()
    assert len(smtp_sink.wait_for(2)) == 2
    assert ("deliver_otp" in output and "succeeded in" in output) == (asked == "1")
    assert ("Task workers.tasks.deliver_otp" in output and "received" in output) == (asked == "1")
