"""Signup accepts only its own tenant's token, one account per mailbox, and names that show what they say."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Tenant
from otp.tokens import Verified, issue_token
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


def test_a_signup_token_issued_for_another_tenant_is_refused_and_makes_no_account(client):
    Tenant.objects.create(slug="acme", name="Acme")
    token = issue_token(Verified("acme", "email", "jane@example.com", "signup"), now=datetime.now(UTC))

    response = sign_up(client, verification_token=token)

    assert (response.status_code, response.json()) == (
        400,
        {"verification_token": ["This verification is for another address. Ask for a new code."]},
    )
    assert accounts() == (0, 1)  # only the tenant made above


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("frank@example.com", "frank+1@example.com"),
        ("frank@gmail.com", "f.r.a.n.k@googlemail.com"),
        ("Frank.Smith+work@GMail.com", "franksmith@gmail.com"),
    ],
)
def test_a_second_spelling_of_one_mailbox_cannot_sign_up_again(client, first, second):
    assert (
        sign_up(client, email=first, verification_token=verification_token(client, email=first.lower())).status_code
        == 201
    )
    again = sign_up(
        client,
        email=second,
        organisation_name="Other",
        verification_token=verification_token(client, email=second.lower()),
    )
    assert (again.status_code, again.json()) == (
        409,
        {"detail": "An account with this address already exists. Sign in instead."},
    )
    assert accounts() == (1, 1)


def test_different_mailboxes_at_one_domain_each_sign_up(client):
    for n, email in enumerate(["frank@example.com", "frankie@example.com"]):
        response = sign_up(
            client,
            email=email,
            organisation_name=f"Org {n}",
            verification_token=verification_token(client, email=email),
        )
        assert response.status_code == 201
    assert accounts() == (2, 2)


@pytest.mark.parametrize(
    "name",
    ["Acme\u202eInc", "Acme\u2066Inc\u2069", "Acme\u200bInc", "Acme\x07Inc", "Acme\u2028Inc", "Acme\x1bInc"],
    ids=["rtl-override", "isolate", "zero-width-space", "bell", "line-separator", "escape"],
)
def test_an_organisation_name_with_invisible_or_reordering_characters_gets_a_field_error(client, name):
    response = sign_up(client, organisation_name=name, verification_token=verification_token(client))
    assert (response.status_code, response.json()) == (
        400,
        {
            "organisation_name": [
                "Use visible characters only: no control, direction-changing or invisible formatting characters."
            ]
        },
    )
    assert accounts() == (0, 0)


def test_an_organisation_name_in_another_script_is_accepted(client):
    response = sign_up(
        client, organisation_name="شركة أكمي — Ünïcode Café", verification_token=verification_token(client)
    )
    assert response.status_code == 201
    assert response.json()["organisation_name"] == "شركة أكمي — Ünïcode Café"
