"""One worker process on the threads pool with 60 provider calls in flight at once.

Twilio's stand-in answers late and keep-alive (tests/standins/latency.py); SNS on moto takes what
Twilio refuses. The checks are what an operator would count afterwards: one send per code, each
log holding the message id its own call was given, exact breaker state and exact metrics.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from messaging.breaker_store import HALF_OPEN, RedisStore
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from otp.models import OneTimeCode
from otp.tasks import deliver_otp
from otpsite.redis import get_redis
from tests.helpers import SEND_URL, wait_for
from tests.metrics_helpers import Scrape
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.http_standin import Answer, ReceivedRequest
from tests.standins.latency import SlowTwilio

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

CODES = 60
PHONES = [f"+1415555{100 + i:04d}" for i in range(CODES)]
REFUSED = set(PHONES[:4])  # Twilio answers these 503: four provider faults, below the threshold of 5


class RecordingTwilio(SlowTwilio):
    """Twilio, 0.2 s late, refusing REFUSED with a 503; remembers which sid it gave which number."""

    def __init__(self) -> None:
        super().__init__(delay=0.2)
        self.sid_for: dict[str, str] = {}

    def answer_ok(self, request: ReceivedRequest) -> Answer:
        to = request.form().get("To", "")
        if to in REFUSED:
            return Answer(503, {"code": 20503, "message": "Service unavailable", "status": 503})
        answer = super().answer_ok(request)
        with self._lock:
            self.sid_for[to] = answer.body["sid"]
        return answer


@pytest.fixture
def twilio() -> Iterator[RecordingTwilio]:
    standin = RecordingTwilio().start()
    try:
        yield standin
    finally:
        standin.release()
        standin.stop()


@pytest.fixture
def threaded_worker(settings, aws, moto_url, twilio, start_worker, tmp_path):
    """A threads-pool worker with 64 threads: SMS through Twilio (late), then SNS on moto."""
    # 60 numbers of one prefix from one client: the per-IP limit, the anonymous budget and the
    # pumping guard (none of them under test here) are opened wide.
    settings.OTP_SEND_LIMIT_PER_IP = settings.SMS_ANONYMOUS_HOURLY_BUDGET = 10_000
    settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED = settings.SMS_PUMPING_PER_CLIENT = 10_000
    settings.SMS_PUMPING_COUNTRY_MIN_UNVERIFIED = settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK = 10_000
    metrics_dir = tmp_path / "worker-metrics"
    metrics_dir.mkdir()

    def start(**env: str):
        worker = start_worker(
            concurrency=64,
            pool="threads",
            TEST_WORKER_STANDIN_CREDENTIALS="1",
            MESSAGING_SMS_PROVIDERS="twilio,sns",
            TWILIO_ACCOUNT_SID=TWILIO_SID,
            TWILIO_AUTH_TOKEN="test-auth-token",
            TWILIO_FROM_NUMBER=TWILIO_FROM,
            TWILIO_API_BASE_URL=twilio.url,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=settings.AWS_REGION,
            AWS_ENDPOINT_URL=moto_url,
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
            # A held call must outlast neither its read timeout nor its half-open trial slot.
            PROVIDER_READ_TIMEOUT="20",
            **env,
        )
        return worker, metrics_dir

    return start


def send_codes(client, phones: list[str]) -> None:
    for phone in phones:
        response = client.post(SEND_URL, {"phone": phone, "purpose": "login"}, content_type="application/json")
        assert response.status_code == 202


def scrape(metrics_dir: Path) -> Scrape:
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(metrics_dir))
    return Scrape(generate_latest(registry).decode())


def sent_count() -> int:
    return CommunicationLog.objects.filter(status=MessageStatus.SENT).count()


def attempts() -> Counter[tuple[str, str]]:
    return Counter(DeliveryAttempt.objects.values_list("provider", "outcome"))


def test_sixty_calls_in_flight_in_one_worker_send_each_code_once_with_its_own_message_id(
    client, twilio, aws, threaded_worker
):
    _, metrics_dir = threaded_worker()
    gate = twilio.hold(lambda request: True)
    send_codes(client, PHONES)
    # Every task published twice (a redelivery): the claim keeps each code to one send.
    for otp_id in OneTimeCode.objects.values_list("pk", flat=True):
        deliver_otp.delay(str(otp_id))

    wait_for(lambda: twilio.in_flight.now == CODES, timeout=60, what="all 60 calls in flight at once")
    gate.set()
    wait_for(lambda: sent_count() == CODES, timeout=60, what="every code sent")

    assert twilio.in_flight.peak == CODES
    assert sorted(m["To"] for m in twilio.messages) == sorted(PHONES)  # one call per code, no more
    assert sorted(sms["phone_number"] for sms in aws.sent_sms()) == sorted(REFUSED)
    logs = CommunicationLog.objects.all()
    assert {log.recipient: log.provider_message_id for log in logs if log.provider_used == "twilio"} == twilio.sid_for
    assert {log.recipient for log in logs if log.provider_used == "sns"} == REFUSED
    assert attempts() == Counter(
        {("twilio", AttemptOutcome.SENT): CODES - 4, ("twilio", AttemptOutcome.PROVIDER_FAULT): 4,
         ("sns", AttemptOutcome.SENT): 4}
    )  # fmt: skip

    metrics = scrape(metrics_dir)
    sent, fault = "messaging_provider_attempts_total", AttemptOutcome.PROVIDER_FAULT
    assert metrics.value(sent, channel="sms", provider="twilio", outcome="sent") == CODES - 4
    assert metrics.value(sent, channel="sms", provider="twilio", outcome=fault) == 4
    assert metrics.value(sent, channel="sms", provider="sns", outcome="sent") == 4
    assert metrics.value("messaging_failovers_total", channel="sms", provider="sns") == 4
    assert metrics.value("messaging_messages_total", channel="sms", status="sent") == CODES
    assert metrics.value("messaging_provider_call_seconds_count", provider="twilio") == CODES
    assert metrics.value("messaging_accept_to_provider_seconds_count", channel="sms") == CODES


def test_the_last_failures_of_a_provider_count_exactly_on_its_breaker(client, twilio, aws, threaded_worker):
    """56 answers first, then the 4 refusals: the breaker holds exactly 4 consecutive failures, still closed."""
    threaded_worker()
    refusals = twilio.hold(lambda request: request.form().get("To") in REFUSED)
    send_codes(client, PHONES)
    wait_for(lambda: sent_count() == CODES - 4, timeout=60, what="the 56 accepted codes")
    refusals.set()
    wait_for(lambda: sent_count() == CODES, timeout=60, what="the 4 refused codes sent by SNS")

    state = RedisStore(get_redis()).read("twilio")
    assert (state.state, state.failures) == ("closed", 4)
    assert attempts()[("twilio", AttemptOutcome.PROVIDER_FAULT)] == 4


def test_a_half_open_breaker_admits_exactly_one_trial_across_sixty_threads(client, twilio, aws, threaded_worker):
    # Twilio's breaker opened a while ago; its reset timeout has passed: the next call is its trial.
    get_redis().hset(RedisStore.keys("twilio")[0], mapping={"state": "open", "failures": 5, "open_until": 0})
    threaded_worker()
    trial = twilio.hold(lambda request: True)
    phones = [phone for phone in PHONES if phone not in REFUSED]
    send_codes(client, phones)

    wait_for(lambda: sent_count() == len(phones) - 1, timeout=60, what="all but the trial sent by SNS")
    assert twilio.in_flight.now == 1
    trial.set()
    wait_for(lambda: sent_count() == len(phones), timeout=60, what="the trial's code sent by Twilio")

    assert len(twilio.messages) == 1
    state = RedisStore(get_redis()).read("twilio")
    assert (state.state, state.successes) == (HALF_OPEN, 1)  # one success of the two that close it
    assert attempts() == Counter(
        {("twilio", AttemptOutcome.SKIPPED_BREAKER_OPEN): len(phones) - 1, ("twilio", AttemptOutcome.SENT): 1,
         ("sns", AttemptOutcome.SENT): len(phones) - 1}
    )  # fmt: skip


def test_sigterm_lets_a_threaded_worker_finish_the_calls_in_hand(client, twilio, aws, threaded_worker):
    worker, _ = threaded_worker()
    gate = twilio.hold(lambda request: True)
    phones = [phone for phone in PHONES[:20] if phone not in REFUSED]
    send_codes(client, phones)
    wait_for(lambda: twilio.in_flight.now == len(phones), timeout=60, what="every call in flight")

    os.kill(worker.process.pid, signal.SIGTERM)  # warm shutdown, as docker stop sends
    wait_for(lambda: "worker: Warm shutdown" in worker.output(), timeout=30, what="the warm shutdown to begin")
    gate.set()
    assert worker.process.wait(timeout=60) == 0

    assert sent_count() == len(phones)
    assert len(twilio.messages) == len(phones)
    assert not aws.sent_sms()
