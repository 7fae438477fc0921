"""A verification token checks offline against the published keys, with PyJWT, not our code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from django.core.management import call_command
from jwt import PyJWKSet

from accounts.keys import create_api_key
from accounts.models import Tenant
from otp.tokens import Verified, issue_token, new_signing_key
from tests.verified import verification_token

pytestmark = pytest.mark.django_db

REDEEM_URL = "/api/v1/auth/otp/token/redeem"


@pytest.fixture(autouse=True)
def key_file(settings, tmp_path):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    return tmp_path / "keys.json"


def check(client, token: str) -> dict:
    """What any backend does: fetch the JWKS, pick the key by kid, verify signature and expiry."""
    keys = PyJWKSet.from_dict(client.get("/.well-known/jwks.json").json())
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    return jwt.decode(token, key.key, algorithms=["ES256"], options={"require": ["exp", "iat", "jti"]})


def default_api_key() -> str:
    return create_api_key(Tenant.objects.get(slug="default"))[1]


def test_a_token_from_verify_checks_against_the_jwks_and_names_the_verification(client):
    token = verification_token(client, purpose="login", email="jane@example.com")

    claims = check(client, token)
    header = jwt.get_unverified_header(token)

    assert header["alg"] == "ES256" and header["kid"]
    assert {k: claims[k] for k in ("tenant", "channel", "recipient", "purpose")} == {
        "tenant": "default",
        "channel": "email",
        "recipient": "jane@example.com",
        "purpose": "login",
    }
    assert claims["exp"] - claims["iat"] == 600
    assert len(claims["jti"]) >= 16
    assert client.get("/.well-known/jwks.json")["Content-Type"] == "application/json"


def test_two_verifications_get_different_token_ids(client):
    first = check(client, verification_token(client, email="a@example.com"))
    second = check(client, verification_token(client, email="a@example.com"))
    assert first["jti"] != second["jti"]


def test_an_expired_token_is_refused(client):
    eleven_minutes_ago = datetime.now(UTC) - timedelta(minutes=11)
    token = issue_token(Verified("default", "email", "jane@example.com", "signup"), now=eleven_minutes_ago)

    with pytest.raises(jwt.ExpiredSignatureError):
        check(client, token)
    redeemed = client.post(
        REDEEM_URL,
        {"token": token},
        content_type="application/json",
        headers={"Authorization": f"Api-Key {default_api_key()}"},
    )
    assert redeemed.status_code == 400 and redeemed.json()["redeemed"] is False


def test_an_altered_token_is_refused(client):
    token = verification_token(client)
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["recipient"] = "mallory@example.com"
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    forged = f"{header}.{forged_payload}.{signature}"

    with pytest.raises(jwt.InvalidSignatureError):
        check(client, forged)
    redeemed = client.post(
        REDEEM_URL,
        {"token": forged},
        content_type="application/json",
        headers={"Authorization": f"Api-Key {default_api_key()}"},
    )
    assert redeemed.status_code == 400


def test_a_token_signed_by_another_key_is_refused(client):
    verification_token(client)  # the service's key set exists
    stranger = new_signing_key(datetime.now(UTC))
    now = int(datetime.now(UTC).timestamp())
    claims = {
        "iss": "otp-service",
        "iat": now,
        "exp": now + 600,
        "jti": "x" * 32,
        "tenant": "default",
        "channel": "email",
        "recipient": "jane@example.com",
        "purpose": "signup",
    }
    under_own_kid = jwt.encode(
        claims,
        stranger.private_key(),
        algorithm="ES256",
        headers={"kid": jwt.get_unverified_header(verification_token(client))["kid"]},
    )
    under_new_kid = jwt.encode(claims, stranger.private_key(), algorithm="ES256", headers={"kid": stranger.kid})

    with pytest.raises(jwt.InvalidSignatureError):
        check(client, under_own_kid)
    with pytest.raises(StopIteration):
        check(client, under_new_kid)
    for token in (under_own_kid, under_new_kid):
        redeemed = client.post(
            REDEEM_URL,
            {"token": token},
            content_type="application/json",
            headers={"Authorization": f"Api-Key {default_api_key()}"},
        )
        assert redeemed.status_code == 400


def test_rotation_signs_with_the_new_key_and_keeps_old_tokens_valid_until_they_expire(client, settings):
    old_token = verification_token(client, email="old@example.com")
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    call_command("otp_signing_keys", "--rotate")
    new_token = verification_token(client, email="new@example.com")
    published = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}

    assert jwt.get_unverified_header(new_token)["kid"] != old_kid
    assert old_kid in published and len(published) == 2
    assert check(client, old_token)["recipient"] == "old@example.com"
    assert check(client, new_token)["recipient"] == "new@example.com"

    # Once every token of the old key has expired, the next rotation drops it.
    settings.OTP_TOKEN_TTL_SECONDS = 0
    call_command("otp_signing_keys", "--rotate")
    published = {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]}
    assert old_kid not in published


def test_redeem_works_once_and_needs_an_api_key_of_the_tokens_tenant(client):
    token = verification_token(client, purpose="login")
    key = default_api_key()
    other_key = create_api_key(Tenant.objects.create(slug="acme", name="Acme"))[1]

    anonymous = client.post(REDEEM_URL, {"token": token}, content_type="application/json")
    wrong_key = client.post(
        REDEEM_URL,
        {"token": token},
        content_type="application/json",
        headers={"Authorization": "Api-Key otpk_000000000000_nope"},
    )
    foreign = client.post(
        REDEEM_URL, {"token": token}, content_type="application/json", headers={"Authorization": f"Bearer {other_key}"}
    )
    first = client.post(
        REDEEM_URL, {"token": token}, content_type="application/json", headers={"Authorization": f"Api-Key {key}"}
    )
    second = client.post(
        REDEEM_URL, {"token": token}, content_type="application/json", headers={"Authorization": f"Api-Key {key}"}
    )

    assert (anonymous.status_code, wrong_key.status_code, foreign.status_code) == (401, 401, 400)
    assert foreign.json() == {
        "redeemed": False,
        "detail": "This token was issued for tenant 'default', not for your API key's tenant 'acme'. "
        "Ask for and verify codes with your API key so that tokens name your tenant.",
    }
    assert first.status_code == 200
    assert first.json() | {"verified_at": 0} == {
        "redeemed": True,
        "tenant": "default",
        "channel": "email",
        "recipient": "jane@example.com",
        "purpose": "login",
        "verified_at": 0,
    }
    assert (second.status_code, second.json()) == (
        409,
        {"redeemed": False, "detail": "This token was already redeemed."},
    )


@pytest.mark.django_db(transaction=True)
def test_the_readmes_pyjwkclient_recipe_checks_a_token_over_http(live_server, settings):
    from django.test import Client

    token = verification_token(Client(), purpose="signup", email="jane@example.com")

    jwks = jwt.PyJWKClient(f"{live_server.url}/.well-known/jwks.json")
    claims = jwt.decode(
        token,
        jwks.get_signing_key_from_jwt(token).key,
        algorithms=["ES256"],
        issuer="otp-service",
        options={"require": ["exp", "jti"]},
    )

    assert (claims["purpose"], claims["recipient"]) == ("signup", "jane@example.com")


def test_after_a_rotation_the_server_itself_still_takes_tokens_of_the_retired_key(client):
    """The retired key stays trusted for redeem and signup while its tokens can be valid, not only in the JWKS."""
    redeemable = verification_token(client, purpose="login", email="old@example.com")
    signup = verification_token(client, purpose="signup", email="jane@example.com")
    key = default_api_key()

    call_command("otp_signing_keys", "--rotate")
    redeemed = client.post(
        REDEEM_URL, {"token": redeemable}, content_type="application/json", headers={"Authorization": f"Api-Key {key}"}
    )
    signed_up = client.post(
        "/api/v1/accounts/signup",
        {"organisation_name": "Acme Inc", "email": "jane@example.com", "verification_token": signup},
        content_type="application/json",
    )

    assert (redeemed.status_code, signed_up.status_code) == (200, 201)
    assert redeemed.json()["recipient"] == "old@example.com"
    assert signed_up.json()["username"] == "jane@example.com"


def test_a_redeemed_token_says_when_the_verification_happened_not_when_the_token_expires(client, settings):
    settings.OTP_TOKEN_TTL_SECONDS = 300
    token = verification_token(client, purpose="login")
    claims = jwt.decode(token, options={"verify_signature": False})

    redeemed = client.post(
        REDEEM_URL,
        {"token": token},
        content_type="application/json",
        headers={"Authorization": f"Api-Key {default_api_key()}"},
    )

    assert redeemed.status_code == 200
    assert redeemed.json()["verified_at"] == claims["iat"] != claims["exp"]
