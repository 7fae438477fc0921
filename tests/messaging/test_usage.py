"""Provider use per UTC day and month: Redis counters seeded from the rows (messaging/usage.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from messaging import usage
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt
from messaging.service import UnifiedMessagingService
from otpsite.redis import get_redis

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


def send_email(i: int) -> dict[str, object]:
    try:
        return UnifiedMessagingService().send_email(f"user{i}@example.com", "Hello", "<p>Hi</p>", "Hi")
    finally:
        connection.close()  # each thread's own connection


def sent_by_smtp_today() -> int:
    return CommunicationLog.objects.filter(
        provider_used="smtp", sent_at__gte=usage.period_bounds("day", timezone.now())[0]
    ).count()


def forget_every_counter() -> None:
    """What a Redis flush or a failover to an empty replica leaves."""
    client = get_redis()
    for key in client.scan_iter(match="*usage:*"):
        client.delete(key)


def test_counts_stay_exact_under_concurrent_deliveries(smtp_sink, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    assert usage.sent_in("smtp", "day", now=timezone.now()) == 0  # seeded before the sends

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(send_email, range(THREADS)))

    assert [r["provider"] for r in results] == ["smtp"] * THREADS
    assert len(smtp_sink.messages) == THREADS
    now = timezone.now()
    assert usage.sent_in("smtp", "day", now=now) == THREADS == sent_by_smtp_today()
    assert usage.sent_in("smtp", "month", now=now) == THREADS


def test_a_lost_counter_is_counted_again_from_the_rows(smtp_sink, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    usage.sent_in("smtp", "day", now=timezone.now())
    with ThreadPoolExecutor(10) as pool:
        list(pool.map(send_email, range(10)))

    forget_every_counter()

    assert usage.sent_in("smtp", "day", now=timezone.now()) == 10 == sent_by_smtp_today()
    send_email(10)
    assert usage.sent_in("smtp", "day", now=timezone.now()) == 11 == sent_by_smtp_today()


def test_a_quota_spent_stays_spent_after_redis_loses_its_counters(smtp_sink, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.MESSAGING_PRICES = {**settings.MESSAGING_PRICES, "smtp": {"per_message": 0, "daily_quota": 3}}
    for i in range(3):
        assert send_email(i)["provider"] == "smtp"

    forget_every_counter()
    refused = send_email(3)

    assert refused["success"] is False
    log = CommunicationLog.objects.get(message_id=refused["message_id"])
    assert list(DeliveryAttempt.objects.filter(log=log).values_list("outcome", flat=True)) == [
        AttemptOutcome.SKIPPED_QUOTA
    ]
    assert len(smtp_sink.messages) == 3
