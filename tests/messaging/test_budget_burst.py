"""A tenant's budget reached mid-burst: 30 codes through one threads-pool worker, all at once.

The cap leaves room for 13 Twilio messages (13 x 0.0075 = 0.0975 of 0.10 USD). Twilio's stand-in
holds every call until the burst has been decided, so the 30 deliveries are truly concurrent: 13
calls are in flight together while the 17 others are refused for the budget. Then: exactly 13
sends, the recorded cost within the cap, the rest failed with the budget's error and no breaker
failure, the 80 % notice given once, and the next send answered 402.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db.models import Sum

from messaging.breaker_store import RedisStore
from messaging.budget_models import TenantBudget, TenantSpend
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from otpsite.redis import get_redis
from tests.helpers import SEND_URL, wait_for
from tests.metrics_helpers import TOKEN
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.latency import SlowTwilio

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

CODES = 30
PHONES = [f"+1415555{200 + i:04d}" for i in range(CODES)]
CAP = Decimal("0.10")
FITS = 13  # 13 x 0.0075 = 0.0975; a 14th would make 0.105


@pytest.fixture
def twilio() -> Iterator[SlowTwilio]:
    standin = SlowTwilio(delay=0.05).start()
    try:
        yield standin
    finally:
        standin.release()
        standin.stop()


@pytest.fixture
def worker(settings, twilio, start_worker):
    settings.OTP_SEND_LIMIT_PER_IP = settings.SMS_ANONYMOUS_HOURLY_BUDGET = 10_000
    settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED = settings.SMS_PUMPING_PER_CLIENT = 10_000
    settings.SMS_PUMPING_COUNTRY_MIN_UNVERIFIED = settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED_UNDER_ATTACK = 10_000
    return lambda: start_worker(
        concurrency=CODES + 2,
        pool="threads",
        TEST_WORKER_STANDIN_CREDENTIALS="1",
        MESSAGING_SMS_PROVIDERS="twilio",
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN="test-auth-token",
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio.url,
        PROVIDER_READ_TIMEOUT="20",
    )


def settled(status: str) -> int:
    return CommunicationLog.objects.filter(status=status).count()


def test_a_budget_reached_mid_burst_sends_nothing_past_the_cap(client, settings, twilio, worker):
    tenant = settings.OTP_DEFAULT_TENANT  # the anonymous caller's tenant
    TenantBudget.objects.create(tenant=tenant, monthly_cap_usd=CAP)
    for phone in PHONES:  # accepted while the month's spend is still 0
        answer = client.post(SEND_URL, {"phone": phone, "purpose": "login"}, content_type="application/json")
        assert answer.status_code == 202
    gate = twilio.hold(lambda request: True)
    running = worker()

    wait_for(lambda: twilio.in_flight.now == FITS and settled(MessageStatus.FAILED) == CODES - FITS,
             timeout=60, what="13 calls held in flight together while 17 are refused")  # fmt: skip
    gate.set()
    wait_for(lambda: settled(MessageStatus.SENT) == FITS, timeout=60, what="the 13 calls answered")

    assert len(twilio.messages) == FITS  # no call past the cap, concurrent ones included
    assert twilio.in_flight.peak == FITS
    sent = CommunicationLog.objects.filter(status=MessageStatus.SENT)
    assert sent.aggregate(total=Sum("cost"))["total"] == FITS * Decimal("0.0075") <= CAP
    refused = CommunicationLog.objects.filter(status=MessageStatus.FAILED)
    assert set(refused.values_list("error_message", flat=True)) == {
        "budget: the tenant's monthly spending cap of 0.10 USD leaves no room for this message"
    }
    assert Counter(DeliveryAttempt.objects.values_list("outcome", flat=True)) == Counter(
        {AttemptOutcome.SENT: FITS, AttemptOutcome.SKIPPED_BUDGET: CODES - FITS}
    )  # one walk each: refused for the budget, never retried
    assert RedisStore(get_redis()).read("twilio").failures == 0
    spend = TenantSpend.objects.get(tenant=tenant)
    assert spend.spent_usd == FITS * Decimal("0.0075")
    assert spend.warned_at is not None
    assert running.output().count("event=messaging.budget_warning") == 1

    again = client.post(SEND_URL, {"phone": PHONES[0], "purpose": "login"}, content_type="application/json")
    assert again.status_code == 402
    assert again.json()["code"] == "budget_exhausted"
    settings.METRICS_TOKEN = TOKEN
    page = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert f'messaging_tenant_budget_used_ratio{{tenant="{tenant}"}} 0.975' in page
