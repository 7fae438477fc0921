"""A tenant credential's free tier and quotas count from the Redis usage counters (messaging/usage.py):
only that tenant's messages at that provider; the platform's counter still counts every message."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from messaging import usage
from messaging.models import CommunicationLog
from messaging.service import UnifiedMessagingService
from otpsite.redis import get_redis
from tests.messaging.test_tenant_providers import GLOBEX_SMTP_PASSWORD, own_credential

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

THREADS = 20


def send_email(tenant: str) -> dict[str, object]:
    try:
        metadata = {"tenant_id": tenant} if tenant else {}
        return UnifiedMessagingService().send_email("jane@example.com", "Hello", "<p>Hi</p>", "Hi", metadata)
    finally:
        connection.close()  # each thread's own connection


def rows_today(tenant: str | None = None) -> int:
    today = usage.period_bounds("day", timezone.now())[0]
    rows = CommunicationLog.objects.filter(provider_used="smtp", sent_at__gte=today)
    return rows.filter(tenant_id=tenant).count() if tenant is not None else rows.count()


@pytest.fixture
def globex_smtp(settings, smtp_sink, login_sink):
    """The platform sends email through its SMTP server (smtp_sink); globex through its own (login_sink)."""
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.MESSAGING_PRICES = {**settings.MESSAGING_PRICES, "smtp": {"per_message": 0, "daily_quota": 500}}
    login_sink.logins = {"globex": GLOBEX_SMTP_PASSWORD}
    own_credential("globex", "smtp", SMTP_HOST=login_sink.host, SMTP_PORT=str(login_sink.port), SMTP_USER="globex",
                   SMTP_PASSWORD=GLOBEX_SMTP_PASSWORD)  # fmt: skip
    return login_sink


def test_a_tenant_credentials_counter_stays_exact_under_concurrent_sends(globex_smtp, smtp_sink):
    now = timezone.now()
    assert usage.sent_in("smtp", "day", now=now, tenant="globex") == 0  # seeded before the sends
    assert usage.sent_in("smtp", "day", now=now) == 0

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(send_email, ["globex"] * THREADS + [""] * 3))

    assert [r["provider"] for r in results] == ["smtp"] * (THREADS + 3)
    assert len(globex_smtp.logged_in) == THREADS and len(smtp_sink.messages) == 3
    now = timezone.now()
    assert usage.sent_in("smtp", "day", now=now, tenant="globex") == THREADS == rows_today("globex")
    assert usage.sent_in("smtp", "month", now=now, tenant="globex") == THREADS
    # The platform's counter counts every message the provider sent, the tenant's included, as before.
    assert usage.sent_in("smtp", "day", now=now) == THREADS + 3 == rows_today()


def test_a_tenant_credentials_lost_counter_is_counted_again_from_its_rows(globex_smtp):
    usage.sent_in("smtp", "day", now=timezone.now(), tenant="globex")
    for tenant in ["globex"] * 4 + [""] * 2:
        send_email(tenant)
    [key] = [key for key in get_redis().scan_iter(match="*usage:smtp@globex*") if "day" in str(key)]

    get_redis().delete(key)

    assert usage.sent_in("smtp", "day", now=timezone.now(), tenant="globex") == 4 == rows_today("globex")
    send_email("globex")
    assert usage.sent_in("smtp", "day", now=timezone.now(), tenant="globex") == 5 == rows_today("globex")
    assert usage.sent_in("smtp", "day", now=timezone.now()) == 7 == rows_today()
