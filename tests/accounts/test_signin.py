"""POST /login/: a `login` verification of an account's contact starts a session, once."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from otp.tokens import Verified, issue_token

pytestmark = pytest.mark.django_db

EMAIL = "member@example.com"


@pytest.fixture(autouse=True)
def signing_key(settings, tmp_path):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")


@pytest.fixture
def member():
    return get_user_model().objects.create_user(EMAIL, EMAIL)


def token(recipient: str = EMAIL, purpose: str = "login", tenant: str = "default") -> str:
    verified = Verified(tenant=tenant, channel="email", recipient=recipient, purpose=purpose)
    return issue_token(verified, now=timezone.now())


def sign_in(client: Client, body: dict) -> tuple[int, dict]:
    response = client.post("/login/", body, content_type="application/json")
    return response.status_code, response.json()


def test_a_login_verification_signs_the_account_in_once(client, member):
    body = {"email": "Member@Example.com", "verification_token": token(), "next": "/signup/"}

    assert sign_in(client, body) == (200, {"signed_in": True, "username": EMAIL, "next": "/signup/"})
    assert client.get("/").context["user"] == member
    status, answer = sign_in(Client(), body)
    assert status == 400
    assert answer == {"verification_token": ["This verification was already used. Ask for a new code."]}


@pytest.mark.parametrize(
    "claims",
    [{"purpose": "signup"}, {"recipient": "other@example.com"}, {"tenant": "another-tenant"}],
    ids=["signup purpose", "other recipient", "other tenant"],
)
def test_a_verification_for_anything_else_does_not_sign_in(client, member, claims):
    status, answer = sign_in(client, {"email": EMAIL, "verification_token": token(**claims)})

    assert status == 400
    assert answer == {"verification_token": ["This verification is for another address. Ask for a new code."]}
    assert not client.get("/").context["user"].is_authenticated


def test_a_verified_address_without_an_account_is_told_to_sign_up(client):
    assert sign_in(client, {"email": EMAIL, "verification_token": token()}) == (
        404,
        {"detail": "No account uses this address. Sign up instead."},
    )


def test_bad_bodies_get_field_errors(client, member):
    assert sign_in(client, {"verification_token": token()})[0] == 400
    assert sign_in(client, {"email": EMAIL, "verification_token": "forged"}) == (
        400,
        {"verification_token": ["Your verification has expired or is not valid. Ask for a new code."]},
    )
    response = client.post("/login/", b"[1, 2", content_type="application/json")
    assert (response.status_code, response.json()) == (400, {"detail": "Send a JSON body."})


def test_next_leaves_the_site_never(client, member):
    body = {"email": EMAIL, "verification_token": token(), "next": "https://evil.example/"}

    assert sign_in(client, body)[1]["next"] == "/"


def test_a_cross_site_post_without_the_csrf_token_is_refused(member):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/login/", {"email": EMAIL, "verification_token": token()}, content_type="application/json")

    assert response.status_code == 403
