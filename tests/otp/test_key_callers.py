"""Tenants calling with an API key are limited per key and per end user, never by their backend's address.

The backend names its end user's address in X-End-User-IP; the header is trusted only with a valid
API key (an anonymous caller cannot choose whose allowance it spends).
"""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.keys import create_api_key
from accounts.models import Tenant
from otp.codes import hash_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL

pytestmark = pytest.mark.django_db

BACKEND_IP = "10.1.2.3"


@pytest.fixture
def api_key() -> str:
    return create_api_key(Tenant.objects.create(slug="acme", name="Acme"))[1]


def post(client: Client, url: str, body: dict, *, key: str | None = None, end_user: str | None = None,
         ip: str = BACKEND_IP):  # fmt: skip
    headers = {}
    if key:
        headers["Authorization"] = f"Api-Key {key}"
    if end_user:
        headers["X-End-User-IP"] = end_user
    return client.post(url, body, content_type="application/json", REMOTE_ADDR=ip, headers=headers)


def give_latest_code(recipient: str, code: str) -> None:
    otp = OneTimeCode.objects.filter(recipient=recipient).latest("created_at")
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code(code, otp_id=str(otp.pk)))


def test_one_backend_sends_for_21_end_users_without_a_429(client, api_key):
    statuses = [
        post(client, SEND_URL, {"email": f"user{n}@example.com"}, key=api_key, end_user=f"198.51.100.{n}").status_code
        for n in range(21)
    ]
    assert statuses == [202] * 21


def test_without_the_header_a_key_gets_its_own_larger_allowance_not_its_backends(client, api_key, settings):
    assert settings.OTP_SEND_LIMIT_PER_IP == 20
    statuses = [post(client, SEND_URL, {"email": f"user{n}@example.com"}, key=api_key).status_code for n in range(21)]
    assert statuses == [202] * 21


def test_a_key_is_limited_per_key_across_its_end_users(client, api_key, settings):
    settings.OTP_SEND_LIMIT_PER_KEY = 3
    for n in range(3):
        body = {"email": f"user{n}@example.com"}
        assert post(client, SEND_URL, body, key=api_key, end_user=f"198.51.100.{n}").status_code == 202
    refused = post(client, SEND_URL, {"email": "user9@example.com"}, key=api_key, end_user="198.51.100.9")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 3000
    other = create_api_key(Tenant.objects.create(slug="globex", name="Globex"))[1]
    assert post(client, SEND_URL, {"email": "user9@example.com"}, key=other, end_user="198.51.100.9").status_code == 202


def test_one_end_user_is_limited_per_address_without_spending_the_others(client, api_key, settings):
    settings.OTP_SEND_LIMIT_PER_IP = 2
    for n in range(2):
        assert (
            post(client, SEND_URL, {"email": f"user{n}@example.com"}, key=api_key, end_user="198.51.100.7").status_code
            == 202
        )
    assert (
        post(client, SEND_URL, {"email": "user2@example.com"}, key=api_key, end_user="198.51.100.7").status_code == 429
    )
    assert (
        post(client, SEND_URL, {"email": "user2@example.com"}, key=api_key, end_user="198.51.100.8").status_code == 202
    )


def test_an_anonymous_caller_cannot_choose_its_address_with_the_header(client, settings):
    settings.OTP_SEND_LIMIT_PER_IP = 2
    statuses = [
        post(
            client, SEND_URL, {"email": f"user{n}@example.com"}, end_user=f"198.51.100.{n}", ip="203.0.113.9"
        ).status_code
        for n in range(3)
    ]
    assert statuses == [202, 202, 429]


def test_an_attacker_behind_the_backend_does_not_lock_the_victim_out(client, api_key, settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    victim = {"email": "victim@example.com", "purpose": "login"}
    wrong = {**victim, "code": "000000"}
    attacker, owner = "198.51.100.66", "203.0.113.50"
    for _ in range(2):  # ten wrong guesses across two codes, as in the review
        assert post(client, SEND_URL, victim, key=api_key, end_user=attacker).status_code == 202
        give_latest_code(victim["email"], "999999")
        assert [post(client, VERIFY_URL, wrong, key=api_key, end_user=attacker).status_code for _ in range(5)] == [
            400
        ] * 5
    assert post(client, VERIFY_URL, wrong, key=api_key, end_user=attacker).status_code == 429  # the attacker is locked

    assert post(client, SEND_URL, victim, key=api_key, end_user=owner).status_code == 202
    give_latest_code(victim["email"], "123456")
    answer = post(client, VERIFY_URL, {**victim, "code": "123456"}, key=api_key, end_user=owner)
    assert answer.status_code == 200


def test_the_openapi_schema_documents_the_end_user_header(client):
    schema = client.get("/api/schema/", headers={"Accept": "application/vnd.oai.openapi+json"}).json()
    for path in ("/api/v1/auth/otp/send", "/api/v1/auth/otp/verify"):
        headers = {p["name"] for p in schema["paths"][path]["post"]["parameters"] if p["in"] == "header"}
        assert "X-End-User-IP" in headers
