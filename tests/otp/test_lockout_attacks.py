"""Attacks on the verification lockout through the HTTP API, and they fail: a stranger cannot lock
an owner out, one address cannot guess past its limit, parallel guesses are counted exactly.

The lockout attacks run end to end: the owner's code travels through a real Celery worker to the
SMTP sink and is read from there.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from otp.codes import hash_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL, code_in

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
