"""The signup endpoint turns a verified contact into exactly one account, and nothing else does."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from accounts.models import Tenant
from otp.tokens import Verified, issue_token, new_signing_key
from tests.verified import verification_token

pytestmark = pytest.mark.django_db

SIGNUP_URL = "/api/v1/accounts/signup"
User = get_user_model()


@pytest.fixture(autouse=True)
def key_file(settings, tmp_path):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")


def sign_up(client, **body):
    return client.post(
        SIGNUP_URL,
        {"organisation_name": "Acme Inc", "email": "jane@example.com", **body},
        content_type="application/json",
    )


def accounts() -> tuple[int, int]:
    return User.objects.count(), Tenant.objects.exclude(slug="default").count()


def test_a_valid_signup_token_creates_one_user_and_its_tenant(client):
    token = verification_token(client, email="jane@example.com")

    response = sign_up(client, verification_token=token)

    assert (response.status_code, response.json()) == (
        201,
        {"tenant": "acme-inc", "organisation_name": "Acme Inc", "username": "jane@example.com"},
    )
    user = User.objects.get()
    assert (user.username, user.email, user.has_usable_password()) == ("jane@example.com", "jane@example.com", False)
    assert Tenant.objects.get(slug="acme-inc").owner == user


def test_a_second_signup_with_the_same_contact_gets_409(client):
    sign_up(client, verification_token=verification_token(client))

    again = sign_up(client, organisation_name="Other Org", verification_token=verification_token(client))

    assert (again.status_code, again.json()) == (
        409,
        {"detail": "An account with this address already exists. Sign in instead."},
    )
    assert accounts() == (1, 1)


@pytest.mark.parametrize(
    ("make_token", "message"),
    [
        (lambda client: None, "Verify your address first."),
        (lambda client: "not.a.jwt", "Your verification has expired or is not valid. Ask for a new code."),
        (
            lambda client: verification_token(client, purpose="login"),
            "This verification is for another address. Ask for a new code.",
        ),
        (
            lambda client: verification_token(client, email="mallory@example.com"),
            "This verification is for another address. Ask for a new code.",
        ),
        (
            lambda client: issue_token(
                Verified("default", "email", "jane@example.com", "signup"),
                now=datetime.now(UTC) - timedelta(minutes=11),
            ),
            "Your verification has expired or is not valid. Ask for a new code.",
        ),
    ],
    ids=["missing", "garbage", "wrong-purpose", "other-contact", "expired"],
)
def test_signup_refuses_a_missing_forged_or_foreign_token(client, make_token, message):
    token = make_token(client)
    body = {} if token is None else {"verification_token": token}

    response = sign_up(client, **body)

    assert (response.status_code, response.json()) == (400, {"verification_token": [message]})
    assert accounts() == (0, 0)


def test_signup_refuses_a_token_signed_by_a_key_it_does_not_know(client):
    import jwt

    real = verification_token(client)
    stranger = new_signing_key(datetime.now(UTC))
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = jwt.encode(
        claims, stranger.private_key(), algorithm="ES256", headers={"kid": jwt.get_unverified_header(real)["kid"]}
    )

    response = sign_up(client, verification_token=forged)

    assert response.status_code == 400
    assert accounts() == (0, 0)


def test_signup_refuses_a_token_already_redeemed(client):
    from accounts.keys import create_api_key

    token = verification_token(client)
    _, key = create_api_key(Tenant.objects.get(slug="default"))
    assert (
        client.post(
            "/api/v1/auth/otp/token/redeem",
            {"token": token},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {key}",
        ).status_code
        == 200
    )

    response = sign_up(client, verification_token=token)

    assert (response.status_code, response.json()) == (
        400,
        {"verification_token": ["This verification was already used. Ask for a new code."]},
    )
    assert accounts() == (0, 0)


@pytest.mark.django_db(transaction=True)
def test_parallel_signups_with_one_token_create_exactly_one_account(client):
    token = verification_token(client)

    def attempt(_: int) -> int:
        try:
            return sign_up(Client(), verification_token=token).status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = sorted(pool.map(attempt, range(8)))

    assert statuses.count(201) == 1
    assert set(statuses) <= {201, 400, 409}
    assert accounts() == (1, 1)


def test_an_organisation_name_already_taken_gets_its_own_slug(client):
    sign_up(client, verification_token=verification_token(client))
    other = sign_up(
        client, email="bob@example.com", verification_token=verification_token(client, email="bob@example.com")
    )

    assert other.json()["tenant"] == "acme-inc-2"
    assert re.fullmatch(r"[a-z0-9-]+", other.json()["tenant"])
