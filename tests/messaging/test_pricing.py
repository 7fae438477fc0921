"""Cost of the next message, quotas, and scenario pricing (rule in messaging.pricing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from messaging.models import CommunicationLog, MessageStatus
from messaging.pricing import Price, count_use, price_next, price_scenario, quota_spent

NOW = datetime(2025, 10, 15, 12, 0, tzinfo=UTC)


def sent_rows(provider: str, count: int, *, at: datetime) -> None:
    CommunicationLog.objects.bulk_create(
        CommunicationLog(recipient="x", channel="email", status=MessageStatus.SENT, provider_used=provider, sent_at=at)
        for _ in range(count)
    )
    count_use(provider, at=at, count=count)  # as record_sent does after its commit


def test_a_price_counts_the_free_tier_first():
    price = Price(per_message=Decimal("0.000067"), free_per_month=3000)
    assert price.cost(3000) == Decimal("0")
    assert price.cost(20, already_sent=2990) == 10 * Decimal("0.000067")
    assert price.cost(5, already_sent=4000) == 5 * Decimal("0.000067")


@pytest.mark.django_db
def test_the_next_message_is_free_until_the_monthly_free_tier_is_used():
    sent_rows("sns", 999, at=NOW - timedelta(days=1))
    assert price_next("sns", now=NOW) == Decimal("0")
    sent_rows("sns", 1, at=NOW - timedelta(days=1))
    assert price_next("sns", now=NOW) == Decimal("0.00645")


@pytest.mark.django_db
def test_use_counts_only_this_utc_month_and_this_provider():
    sent_rows("sns", 1000, at=datetime(2025, 9, 30, 23, 59, 59, tzinfo=UTC))
    sent_rows("twilio", 1000, at=NOW - timedelta(hours=1))
    assert price_next("sns", now=datetime(2025, 10, 1, 0, 0, tzinfo=UTC)) == Decimal("0")


@pytest.mark.django_db
def test_a_provider_without_free_tier_is_paid_from_the_first_message():
    assert price_next("twilio", now=NOW) == Decimal("0.0075")


@pytest.mark.django_db
def test_a_provider_missing_from_the_price_table_is_free():
    assert price_next("console", now=NOW) == Decimal("0")
    assert not quota_spent("console", now=NOW)


@pytest.mark.django_db
def test_the_daily_quota_is_spent_at_500_sent_today_and_renews_the_next_day():
    sent_rows("smtp", 499, at=NOW - timedelta(hours=1))
    assert not quota_spent("smtp", now=NOW)
    sent_rows("smtp", 1, at=NOW - timedelta(hours=1))
    assert quota_spent("smtp", now=NOW)
    assert not quota_spent("smtp", now=NOW + timedelta(days=1))


@pytest.mark.django_db
def test_the_monthly_quota_is_spent_at_15000_sent_this_month():
    start = datetime(2025, 10, 1, 1, 0, tzinfo=UTC)
    for day in range(29):  # 500 a day, each day within the daily quota
        sent_rows("smtp", 500, at=start + timedelta(days=day))
    sent_rows("smtp", 499, at=start + timedelta(days=29))
    assert not quota_spent("smtp", now=datetime(2025, 10, 31, 0, 30, tzinfo=UTC))  # 14,999 this month, none today
    sent_rows("smtp", 1, at=start + timedelta(days=29))
    assert quota_spent("smtp", now=datetime(2025, 10, 31, 0, 30, tzinfo=UTC))
    assert not quota_spent("smtp", now=datetime(2025, 11, 1, 0, 30, tzinfo=UTC))


@pytest.mark.django_db
def test_quotas_come_from_the_price_table_in_settings(settings):
    settings.MESSAGING_PRICES = {**settings.MESSAGING_PRICES, "twilio": {"per_message": "0.01", "daily_quota": 2}}
    sent_rows("twilio", 2, at=NOW - timedelta(hours=1))
    assert quota_spent("twilio", now=NOW)
    assert price_next("twilio", now=NOW) == Decimal("0.01")


def test_20000_sms_cost_150_dollars_on_twilio_alone():
    priced = price_scenario(20_000, ["twilio"])
    assert priced.total == Decimal("150.00")
    assert [(s.provider, s.messages) for s in priced.shares] == [("twilio", 20_000)]


def test_20000_sms_cost_122_55_dollars_with_sns_first():
    priced = price_scenario(20_000, ["sns", "twilio", "console"])
    assert priced.total == Decimal("122.55")
    assert [(s.provider, s.messages) for s in priced.shares] == [("sns", 20_000)]


def test_20000_emails_stay_within_the_ses_free_tier():
    assert price_scenario(20_000, ["ses", "sendgrid", "smtp"]).total == Decimal("0")


def test_a_capped_provider_takes_its_quota_and_the_next_one_the_rest():
    priced = price_scenario(20_000, ["smtp", "sendgrid"], days=30)
    assert [(s.provider, s.messages, s.cost) for s in priced.shares] == [
        ("smtp", 15_000, Decimal("0")),
        ("sendgrid", 5_000, 2_000 * Decimal("0.000067")),
    ]
    assert price_scenario(20_000, ["smtp", "sendgrid"], days=28).shares[0].messages == 14_000  # 500 a day


def test_volume_beyond_every_quota_is_reported_unplaced():
    priced = price_scenario(20_000, ["smtp"])
    assert (priced.unplaced, priced.total) == (5_000, Decimal("0"))
