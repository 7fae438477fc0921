"""The signup page: no inline script or style, its assets are served, and its flow signs up once."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.models import Tenant
from tests.helpers import SEND_URL, VERIFY_URL, code_in

pytestmark = pytest.mark.django_db

SIGNUP_URL = "/api/v1/accounts/signup"


def page(client, path: str = "/signup/") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(
    ("path", "scripts"),
    [
        ("/signup/", ["codeflow.js", "signup.js"]),
        ("/login/", ["codeflow.js", "login.js"]),
        ("/", []),
    ],
)
def test_the_pages_have_no_inline_script_style_or_handlers(client, path, scripts):
    html = page(client, path)

    assert re.findall(r"<script[^>]*>", html) == [f'<script src="/static/otp/{name}" defer>' for name in scripts]
    assert "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "://" not in html  # nothing from another host


def test_the_pages_script_and_stylesheet_are_served(client):
    html = page(client)

    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', html):
        response = client.get(asset)
        assert response.status_code == 200, asset
        body = b"".join(response.streaming_content)
        assert body
    script = b"".join(client.get("/static/otp/codeflow.js").streaming_content).decode()
    assert "You can ask for a new code in" in script
    assert "Retry-After" in script


def test_the_page_names_its_controls_for_people_and_browser_tests(client):
    html = page(client)

    labels = dict(re.findall(r'<label for="([a-z-]+)">([^<]+)</label>', html))
    assert labels == {"organisation": "Organisation name", "recipient": "Email or phone", "code": "Code"}
    buttons = re.findall(r"<button[^>]*>([^<]+)</button>", html)
    assert buttons == ["Send me a code", "Verify", "Resend code", "Change address"]
    assert 'role="status"' in html
    # No empty grey box on load: the status region starts hidden, as does the code form.
    assert re.search(r'<div id="status" role="status" aria-live="polite" hidden>', html)
    assert re.search(r'<form id="verify-form" hidden', html)
    assert 'data-cooldown="60"' in html


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_pages_flow_sends_a_code_verifies_it_and_creates_exactly_one_account(
    client, smtp_sink, start_worker, settings, tmp_path
):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    start_worker()
    html = page(client)
    urls = dict(re.findall(r'data-(send|verify|signup)-url="([^"]+)"', html))
    assert urls == {"send": SEND_URL, "verify": VERIFY_URL, "signup": SIGNUP_URL}

    # What signup.js posts, in order.
    sent = client.post(
        urls["send"], {"email": "jane@example.com", "purpose": "signup"}, content_type="application/json"
    )
    assert sent.status_code == 202
    [message] = smtp_sink.wait_for(1)
    code = code_in(message.get_body(("plain",)).get_content())
    verified = client.post(
        urls["verify"],
        {"email": "jane@example.com", "purpose": "signup", "code": code},
        content_type="application/json",
    )
    assert verified.status_code == 200
    body = {
        "email": "jane@example.com",
        "organisation_name": "Acme Inc",
        "verification_token": verified.json()["verification_token"],
    }
    created = client.post(urls["signup"], body, content_type="application/json")
    again = client.post(urls["signup"], body, content_type="application/json")

    assert created.status_code == 201 and created.json()["organisation_name"] == "Acme Inc"
    assert again.status_code == 409
    assert get_user_model().objects.filter(username="jane@example.com").count() == 1
    assert Tenant.objects.filter(owner__username="jane@example.com").count() == 1


def test_a_resend_inside_the_cooldown_says_how_long_to_wait(client):
    first = client.post(SEND_URL, {"email": "jane@example.com", "purpose": "signup"}, content_type="application/json")
    resend = client.post(SEND_URL, {"email": "jane@example.com", "purpose": "signup"}, content_type="application/json")

    assert first.status_code == 202
    assert resend.status_code == 429
    assert 0 < int(resend["Retry-After"]) <= 60
    assert resend.json()["retry_after"] == int(resend["Retry-After"])


def test_a_number_typed_without_plus_gets_a_hint_in_words(client):
    as_phone = client.post(SEND_URL, {"phone": "4155550123"}, content_type="application/json")
    as_email = client.post(SEND_URL, {"email": "415 555 0123"}, content_type="application/json")

    hint = "Enter the number in international format: + and the country code, e.g. +14155550123."
    assert (as_phone.status_code, as_phone.json()) == (400, {"phone": [hint]})
    assert (as_email.status_code, as_email.json()) == (400, {"email": [hint]})
