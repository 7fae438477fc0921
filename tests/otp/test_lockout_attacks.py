"""Security review (issue 13): each attack through the HTTP API, and it fails.

The lockout attacks run end to end: the owner's code travels through a real Celery worker to the
SMTP sink and is read from there.
"""

from __future__ import annotations

import io
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from messaging.models import CommunicationLog, DeliveryAttempt, MessageStatus
from otp.codes import hash_code
from otp.models import OneTimeCode
from otpsite.parsers import LimitedJSONParser, RequestTooLarge
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = {"email": "owner@example.com", "purpose": "login"}
ATTACKER_IP = "198.51.100.66"
OWNER_IP = "203.0.113.10"


def post(client: Client, url: str, body: dict, ip: str = OWNER_IP, **extra: str):
    return client.post(url, body, content_type="application/json", REMOTE_ADDR=ip, **extra)


def code_from_inbox(sink, count: int) -> str:
    return code_in(sink.wait_for(count)[count - 1].get_body(("plain",)).get_content())


@pytest.fixture
def no_cooldown(settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0


# --- 4. Lockout as a weapon -------------------------------------------------------------------


def test_a_strangers_guesses_at_an_address_with_no_code_do_not_lock_its_owner_out(client, smtp_sink, start_worker):
    start_worker()
    wrong = {**OWNER, "code": "000000"}
    assert {post(client, VERIFY_URL, wrong, ATTACKER_IP).status_code for _ in range(30)} == {400}

    assert post(client, SEND_URL, OWNER).status_code == 202
    code = code_from_inbox(smtp_sink, 1)
    assert post(client, VERIFY_URL, {**OWNER, "code": code}).status_code == 200


def test_after_an_attackers_burst_the_owner_verifies_a_fresh_code_from_another_address(
    client, smtp_sink, start_worker, no_cooldown
):
    start_worker()
    assert post(client, SEND_URL, OWNER).status_code == 202
    code_from_inbox(smtp_sink, 1)
    wrong = {**OWNER, "code": "000000"}
    # Five guesses kill the code; after a resend five more lock the attacker out.
    assert [post(client, VERIFY_URL, wrong, ATTACKER_IP).status_code for _ in range(5)] == [400] * 5
    assert post(client, SEND_URL, OWNER).status_code == 202
    code_from_inbox(smtp_sink, 2)
    assert [post(client, VERIFY_URL, wrong, ATTACKER_IP).status_code for _ in range(6)] == [400] * 5 + [429]

    assert post(client, SEND_URL, OWNER).status_code == 202
    fresh = code_from_inbox(smtp_sink, 3)
    assert post(client, VERIFY_URL, {**OWNER, "code": fresh}, ATTACKER_IP).status_code == 429
    assert post(client, VERIFY_URL, {**OWNER, "code": fresh}, OWNER_IP).status_code == 200


def test_verify_requests_from_one_ip_are_rate_limited(client, settings):
    settings.OTP_VERIFY_LIMIT_PER_IP = 20
    answers = [
        post(client, VERIFY_URL, {"email": f"user{n}@example.com", "purpose": "login", "code": "000000"}, ATTACKER_IP)
        for n in range(21)
    ]
    assert [a.status_code for a in answers] == [400] * 20 + [429]
    assert int(answers[-1]["Retry-After"]) > 0


def test_39_parallel_wrong_guesses_are_counted_exactly(client, settings):
    assert settings.OTP_LOCKOUT_THRESHOLD == 10
    # The code must outlive the threshold; with the default 5 attempts it dies after the fifth
    # guess, and whether a late thread then sees "no live code" (400, uncounted) or the lock (429)
    # depends on how the threads are scheduled.
    settings.OTP_MAX_ATTEMPTS = settings.OTP_LOCKOUT_THRESHOLD
    assert post(client, SEND_URL, OWNER).status_code == 202
    otp = OneTimeCode.objects.get()
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code("123456", otp_id=str(otp.pk)))
    barrier = threading.Barrier(39)

    def guess(_: int) -> int:
        try:
            one = Client()
            barrier.wait()
            return post(one, VERIFY_URL, {**OWNER, "code": "000000"}, ATTACKER_IP).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=39) as pool:
        statuses = list(pool.map(guess, range(39)))
    assert sorted(statuses) == [400] * 10 + [429] * 29
    assert OneTimeCode.objects.get().attempts == settings.OTP_MAX_ATTEMPTS


# --- 5. Address variants share one allowance --------------------------------------------------


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


def test_the_message_goes_to_what_the_user_typed(client, smtp_sink, start_worker):
    start_worker()
    assert post(client, SEND_URL, {"email": "carol+otp@example.com", "purpose": "login"}).status_code == 202
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0][1] == ["carol+otp@example.com"]


# --- 8. Body size and nesting -----------------------------------------------------------------


def test_a_20_mb_body_gets_413_and_nothing_is_queued(client):
    padding = "x" * (20 * 1024 * 1024)
    body = '{"email": "big@example.com", "purpose": "login", "pad": "' + padding + '"}'
    response = client.post(SEND_URL, body, content_type="application/json")
    assert response.status_code == 413
    assert OneTimeCode.objects.count() == 0


@pytest.mark.parametrize("body", ["[" * 3000 + "]" * 3000, '{"a":' * 1200 + "1" + "}" * 1200])
def test_deeply_nested_json_gets_400_not_500(client, settings, body):
    assert len(body) <= settings.API_MAX_BODY_BYTES  # it reaches the decoder
    response = client.post(VERIFY_URL, body, content_type="application/json")
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_a_body_without_a_content_length_is_cut_off_at_the_cap(settings):
    # Chunked uploads carry no Content-Length: the parser stops reading one byte past the cap.
    stream = io.BytesIO(b'{"pad": "' + b"x" * (settings.API_MAX_BODY_BYTES * 4) + b'"}')
    with pytest.raises(RequestTooLarge):
        LimitedJSONParser().parse(stream, "application/json", {"request": None})
    assert stream.tell() == settings.API_MAX_BODY_BYTES + 1


def test_a_normal_body_still_works(client):
    assert (
        client.post(
            SEND_URL, {"email": "ok@example.com", "purpose": "login"}, content_type="application/json"
        ).status_code
        == 202
    )


# --- 7. SMS only to numbers that can receive a code -------------------------------------------


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


# --- 1. No code on a worker's stdout in production ---------------------------------------------


def test_with_every_sms_provider_down_no_code_reaches_the_worker_output(client, start_worker):
    worker = start_worker()  # the production chain: sns, twilio; neither configured here
    response = post(client, SEND_URL, {"phone": "+14155550123", "purpose": "login"})
    assert response.status_code == 202

    def settled():
        log = CommunicationLog.objects.first()
        return log if log and log.status == MessageStatus.FAILED else None

    log = wait_for(settled, what="delivery to give up")
    assert log.provider_used == ""
    providers = set(DeliveryAttempt.objects.values_list("provider", flat=True))
    assert providers == {"sns", "twilio"}
    output = worker.output()
    assert "console SMS" not in output
    assert "4155550123" not in output
    assert not re.search(r"(?<!\d)\d{6}(?!\d).*is your", output)
