"""Limits per API key and per tenant: requests per second and messages per day, 429 with Retry-After."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from notifications import limits
from notifications.models import Message
from tests.notifications.conftest import EMAIL, MESSAGES_URL, tenant_client

pytestmark = pytest.mark.django_db
NOON = datetime(2026, 12, 4, 12, 0, 0, 250000, tzinfo=UTC)


def test_requests_per_second_are_limited_per_key_and_the_next_second_is_fresh(acme, settings):
    settings.MESSAGES_KEY_REQUESTS_PER_SECOND = 3
    key = acme.tenant.api_keys.get()
    for _ in range(3):
        limits.admit_request(key, now=NOON)

    with pytest.raises(limits.TooMany) as refused:
        limits.admit_request(key, now=NOON)
    limits.admit_request(key, now=NOON.replace(second=1))

    assert (refused.value.scope, refused.value.wait) == ("key_rps", 1)


def test_the_tenants_requests_per_second_cover_all_its_keys(acme, settings):
    settings.MESSAGES_TENANT_REQUESTS_PER_SECOND = 2
    second_key = tenant_client("acme")
    first, other = acme.tenant.api_keys.order_by("id")
    limits.admit_request(first, now=NOON)
    limits.admit_request(other, now=NOON)

    with pytest.raises(limits.TooMany) as refused:
        limits.admit_request(first, now=NOON)

    assert refused.value.scope == "tenant_rps" and second_key.tenant == acme.tenant


def test_messages_per_day_answer_429_with_retry_after_until_utc_midnight_and_other_tenants_go_on(
    acme, globex, settings
):
    settings.MESSAGES_TENANT_PER_DAY = 2
    sent = [acme.send(EMAIL).status_code, tenant_client("acme").send(EMAIL).status_code]
    refused = acme.send(EMAIL)

    assert sent == [202, 202] and refused.status_code == 429
    assert refused.json()["retry_after"] == int(refused["Retry-After"]) > 0
    assert "tenant_day" in refused.json()["detail"]
    assert globex.send(EMAIL).status_code == 202
    assert Message.objects.filter(tenant=acme.tenant).count() == 2


def test_a_refused_request_uses_up_nothing(acme, settings):
    settings.MESSAGES_KEY_PER_DAY = 2
    settings.MESSAGES_TENANT_PER_DAY = 1
    key = acme.tenant.api_keys.get()
    limits.admit_message(key, now=NOON)
    for _ in range(3):  # refused by the tenant's counter: the key's own must not count these
        with pytest.raises(limits.TooMany):
            limits.admit_message(key, now=NOON)
    settings.MESSAGES_TENANT_PER_DAY = 10

    limits.admit_message(key, now=NOON)  # the key's second and last message of the day
    with pytest.raises(limits.TooMany) as refused:
        limits.admit_message(key, now=NOON)

    assert refused.value.scope == "key_day"


def test_every_tenant_endpoint_is_limited_per_second(acme, settings):
    settings.MESSAGES_KEY_REQUESTS_PER_SECOND = 0

    answers = [acme.get(MESSAGES_URL), acme.get("/api/v1/templates"), acme.get("/api/v1/callbacks"), acme.send(EMAIL)]

    assert [a.status_code for a in answers] == [429] * 4 and answers[0]["Retry-After"] == "1"


def test_limits_fail_closed_with_503_when_redis_is_unreachable(acme, redis_unreachable):
    response = acme.send(EMAIL)

    assert response.status_code == 503 and not Message.objects.exists()
