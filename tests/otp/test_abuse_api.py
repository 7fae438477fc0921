"""Abuse protection through the HTTP API: limits, pumping guards, lockout, fail closed, no enumeration."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.http import parse_http_date

from messaging.models import CommunicationLog
from otp.api import SEND_ACCEPTED
from otp.codes import hash_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = {"email": "jane@example.com", "purpose": "login"}


def post(client: Client, url: str, body: dict, **extra: str):
    return client.post(url, body, content_type="application/json", **extra)


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def tasks_enqueued() -> int:
    return int(broker().llen(settings.CELERY_QUEUE_DELIVERY))


@pytest.fixture(autouse=True)
def empty_queue() -> Iterator[None]:
    """No worker runs here: the tasks published stay in the broker, where they are counted."""
    broker().delete(settings.CELERY_QUEUE_DELIVERY)
    yield
    broker().delete(settings.CELERY_QUEUE_DELIVERY)


@pytest.fixture
def no_cooldown(settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0


def store_code(code: str, **request) -> None:
    """Give the latest code of the recipient a known value, as the worker would after delivery."""
    otp = OneTimeCode.objects.filter(**request).latest("created_at")
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code(code, otp_id=str(otp.pk)))


def assert_no_store(response) -> None:
    assert "no-store" in response["Cache-Control"]


# --- Send limits ------------------------------------------------------------------------------


def test_fifty_concurrent_sends_to_one_recipient_from_one_client_admit_exactly_three(no_cooldown):
    barrier = threading.Barrier(50)

    def one_send(n: int):
        try:
            client = Client()
            barrier.wait()
            return post(client, SEND_URL, EMAIL, REMOTE_ADDR="198.51.100.1")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(one_send, range(50)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [202] * 3 + [429] * 47
    for refused in (r for r in responses if r.status_code == 429):
        assert 1 <= int(refused["Retry-After"]) <= 600
        assert refused.json()["retry_after"] == int(refused["Retry-After"])
        assert_no_store(refused)
    assert OneTimeCode.objects.count() == 3
    assert CommunicationLog.objects.count() == 3
    assert tasks_enqueued() == 3


def test_a_resend_within_the_cooldown_gets_429_with_the_seconds_left(client):
    assert post(client, SEND_URL, EMAIL).status_code == 202
    refused = post(client, SEND_URL, EMAIL)
    assert refused.status_code == 429
    assert 59 <= int(refused["Retry-After"]) <= 60
    assert OneTimeCode.objects.count() == 1
    assert tasks_enqueued() == 1


@pytest.mark.parametrize("trusted_proxies", [0, 1])
def test_a_forged_x_forwarded_for_does_not_change_whose_limit_is_counted(client, settings, trusted_proxies):
    settings.TRUSTED_PROXY_COUNT = trusted_proxies
    settings.OTP_SEND_LIMIT_PER_IP = 3
    real_client = "203.0.113.7"
    # Behind one proxy, the proxy appends the address it saw; without one, the client is the peer.
    remote, suffix = ("10.0.0.2", f", {real_client}") if trusted_proxies else (real_client, "")

    def send_as(n: int, forged: str):
        body = {"email": f"user{n}@example.com", "purpose": "login"}
        return post(client, SEND_URL, body, REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forged + suffix)

    assert [send_as(n, f"198.51.100.{n}").status_code for n in range(3)] == [202] * 3
    refused = send_as(3, "192.0.2.1")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 3000  # the per-IP hour, not a cooldown
    assert OneTimeCode.objects.count() == 3


# --- SMS pumping ------------------------------------------------------------------------------


def test_a_number_outside_the_allowed_countries_gets_a_field_error_and_nothing_is_sent(client):
    response = post(client, SEND_URL, {"phone": "+18095551234", "purpose": "login"})  # Dominican Republic
    assert response.status_code == 400
    assert response.json() == {"phone": ["Text messages cannot be sent to numbers in this country."]}
    assert_no_store(response)
    assert OneTimeCode.objects.count() == 0
    assert CommunicationLog.objects.count() == 0
    assert tasks_enqueued() == 0


@pytest.mark.parametrize("number", ["+12025550100", "+14165550123", "+447400123456"], ids=["US", "CA", "GB"])
def test_a_number_in_an_allowed_country_gets_202_and_a_queued_code(client, number):
    response = post(client, SEND_URL, {"phone": number, "purpose": "login"})
    assert (response.status_code, response.json()) == (202, SEND_ACCEPTED)
    assert list(OneTimeCode.objects.values_list("recipient", "channel")) == [(number, "sms")]
    assert tasks_enqueued() == 1


# --- No enumeration, no caching, no cookies ---------------------------------------------------


def comparable(response) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers; Expires (set by never_cache) is only the clock and must be now."""
    headers = dict(response.headers)
    expires = parse_http_date(headers.pop("Expires"))
    assert abs(expires - time.time()) < 5
    return response.status_code, response.content, headers


@pytest.mark.parametrize(
    ("known", "unknown"),
    [
        ({"email": "known@example.com"}, {"email": "unknown@example.com"}),
        ({"phone": "+12025550100"}, {"phone": "+13125550199"}),
    ],
)
def test_known_and_unknown_recipients_get_identical_send_answers(client, known, unknown):
    recipient = next(iter(known.values()))
    channel = "email" if "email" in known else "sms"
    issue_code(CodeRequest("default", recipient, channel, "login"), now=timezone.now(), enqueue=lambda otp_id: None)
    for_known = post(client, SEND_URL, {**known, "purpose": "login", "tenant_id": "default"})
    for_unknown = post(client, SEND_URL, {**unknown, "purpose": "login", "tenant_id": "default"})
    assert for_known.status_code == 202
    assert comparable(for_known) == comparable(for_unknown)
    assert_no_store(for_known)
    assert "Set-Cookie" not in for_known.headers


def test_a_wrong_code_for_a_known_recipient_answers_like_one_for_an_unknown_recipient(client):
    assert post(client, SEND_URL, EMAIL).status_code == 202
    store_code("123456", recipient=EMAIL["email"])
    for_known = post(client, VERIFY_URL, {**EMAIL, "code": "654321"})
    for_unknown = post(client, VERIFY_URL, {"email": "nobody@example.com", "purpose": "login", "code": "654321"})
    assert for_known.status_code == 400
    assert comparable(for_known) == comparable(for_unknown)
    assert_no_store(for_known)


def test_the_json_endpoints_take_no_cookies_and_need_no_csrf_token():
    client = Client(enforce_csrf_checks=True)
    response = post(client, SEND_URL, EMAIL)
    assert response.status_code == 202
    assert "Set-Cookie" not in response.headers
    # What a cross-site HTML form can send (no CORS preflight) is not accepted at all.
    form = client.post(SEND_URL, {"email": "jane@example.com", "purpose": "login"})
    assert form.status_code == 415
    assert OneTimeCode.objects.count() == 1


# --- Verification lockout ---------------------------------------------------------------------


def test_failures_across_two_codes_add_up_and_lock_verification(client, settings, no_cooldown):
    assert settings.OTP_LOCKOUT_THRESHOLD == 10
    assert post(client, SEND_URL, EMAIL).status_code == 202
    wrong = {**EMAIL, "code": "000000"}
    assert [post(client, VERIFY_URL, wrong).status_code for _ in range(5)] == [400] * 5  # first code dies
    assert post(client, SEND_URL, EMAIL).status_code == 202
    store_code("123456", recipient=EMAIL["email"])
    assert [post(client, VERIFY_URL, wrong).status_code for _ in range(5)] == [400] * 5

    locked = post(client, VERIFY_URL, {**EMAIL, "code": "123456"})  # even the right code
    assert locked.status_code == 429
    assert 299 <= int(locked["Retry-After"]) <= 300
    assert_no_store(locked)
    assert OneTimeCode.objects.filter(used_at__isnull=False).count() == 0


def test_the_verify_log_line_has_the_result_masked_recipient_and_client_ip_but_no_code(client, caplog):
    assert post(client, SEND_URL, EMAIL, REMOTE_ADDR="203.0.113.7").status_code == 202
    store_code("123456", recipient=EMAIL["email"])
    with caplog.at_level("INFO", logger="otp.api"):
        post(client, VERIFY_URL, {**EMAIL, "code": "654321"}, REMOTE_ADDR="203.0.113.7")
        post(client, VERIFY_URL, {**EMAIL, "code": "123456"}, REMOTE_ADDR="203.0.113.7")
    lines = [r.getMessage() for r in caplog.records if "event=otp.verify" in r.getMessage()]
    assert lines == [
        "event=otp.verify result=failure purpose=login recipient=j***@example.com ip=203.0.113.7",
        "event=otp.verify result=success purpose=login recipient=j***@example.com ip=203.0.113.7",
    ]
    assert not any("654321" in r.getMessage() or "123456" in r.getMessage() for r in caplog.records)


# --- Redis unreachable ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [EMAIL, {"phone": "+12025550100", "purpose": "login"}],
    ids=["email", "sms"],
)
def test_send_answers_503_within_a_second_when_redis_is_unreachable(client, settings, body):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    response = post(client, SEND_URL, body)
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503
    assert_no_store(response)
    assert OneTimeCode.objects.count() == 0
    assert tasks_enqueued() == 0


def test_verify_answers_503_within_a_second_and_never_succeeds_when_redis_is_unreachable(client, settings):
    assert post(client, SEND_URL, EMAIL).status_code == 202
    store_code("123456", recipient=EMAIL["email"])
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    response = post(client, VERIFY_URL, {**EMAIL, "code": "123456"})
    assert time.monotonic() - started < 1.0
    assert response.status_code == 503
    assert_no_store(response)
    # The code was not spent: once Redis is back it still verifies.
    settings.REDIS_URL = reachable
    assert post(client, VERIFY_URL, {**EMAIL, "code": "123456"}).status_code == 200


@pytest.mark.parametrize(
    "variant",
    ["Alice+1@example.com", "alice+promo@EXAMPLE.COM", "alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com"],
)
def test_address_variants_count_against_one_recipient_limit(client, settings, no_cooldown, variant):
    settings.OTP_SEND_LIMIT_PER_RECIPIENT = 1
    assert post(client, SEND_URL, {"email": "alice@example.com", "purpose": "login"}).status_code == 202
    # From the same client: the per-(recipient, client) allowance is shared by every spelling.
    refused = post(client, SEND_URL, {"email": variant, "purpose": "login"})
    assert refused.status_code == 429


def test_idn_domain_forms_share_one_allowance(client, settings, no_cooldown):
    settings.OTP_SEND_LIMIT_PER_RECIPIENT = 1
    assert post(client, SEND_URL, {"email": "bob@exämple.com", "purpose": "login"}).status_code == 202
    assert post(client, SEND_URL, {"email": "bob@xn--exmple-cua.com", "purpose": "login"}).status_code == 429


@pytest.mark.parametrize(
    "number",
    ["+18005550100", "+19005550100", "+442079460000", "+443069990000"],
    ids=["us-toll-free", "us-premium", "gb-landline", "gb-uan"],
)
def test_an_sms_to_a_number_that_is_not_mobile_is_refused_before_anything_is_queued(client, number):
    response = post(client, SEND_URL, {"phone": number, "purpose": "login"})
    assert response.status_code == 400
    assert response.json()["phone"] == ["Text messages can only be sent to mobile numbers."]
    assert OneTimeCode.objects.count() == 0


def test_mobile_and_fixed_line_or_mobile_numbers_are_accepted(client):
    assert post(client, SEND_URL, {"phone": "+447400123456", "purpose": "login"}).status_code == 202
    assert post(client, SEND_URL, {"phone": "+14155550123", "purpose": "login"}).status_code == 202


def test_allowed_number_types_are_configurable_per_country(client, settings):
    settings.SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY = {"US": ["MOBILE"]}  # US numbers are mostly ambiguous
    refused = post(client, SEND_URL, {"phone": "+14155550123", "purpose": "login"})
    assert refused.status_code == 400
    settings.SMS_ALLOWED_NUMBER_TYPES_BY_COUNTRY = {"GB": ["MOBILE", "FIXED_LINE"]}
    assert post(client, SEND_URL, {"phone": "+442079460000", "purpose": "login"}).status_code == 202
