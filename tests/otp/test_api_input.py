"""Bad input gets a 400 with field errors, never a 500; the endpoints take POST only."""

from __future__ import annotations

import pytest

from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL

pytestmark = pytest.mark.django_db

BAD_SEND_BODIES = [
    ({"purpose": "signup"}, "non_field_errors"),
    ({"email": "a@example.com", "phone": "+14155550123", "purpose": "signup"}, "non_field_errors"),
    ({"email": "not-an-email", "purpose": "signup"}, "email"),
    ({"email": "a@@example.com", "purpose": "signup"}, "email"),
    ({"phone": "+1 555 000", "purpose": "signup"}, "phone"),
    ({"phone": "+99 123456789", "purpose": "signup"}, "phone"),
    ({"phone": "4155550123", "purpose": "signup"}, "phone"),
    ({"email": "a@example.com", "purpose": "launch-missiles"}, "purpose"),
    ({"email": "a" * 300 + "@example.com", "purpose": "signup"}, "email"),
    ({"phone": "+1" + "4" * 100, "purpose": "signup"}, "phone"),
    ({"email": "a@example.com", "purpose": "signup", "tenant_id": "x" * 65}, "tenant_id"),
    ({"email": "a@example.com", "purpose": "signup", "tenant_id": "a b"}, "tenant_id"),
    ({"email": "a@example.com", "purpose": "signup", "tenant_id": "acme"}, "tenant_id"),
    ({"email": ["a@example.com"], "purpose": "signup"}, "email"),
]


@pytest.mark.parametrize(("body", "field"), BAD_SEND_BODIES)
def test_send_refuses_bad_input_with_field_errors(client, body, field):
    response = client.post(SEND_URL, body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()
    assert response["Cache-Control"] == "no-store" or "no-store" in response["Cache-Control"]
    assert OneTimeCode.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "a@example.com", "purpose": "signup"}, "code"),
        ({"email": "a@example.com", "purpose": "signup", "code": "12ab56"}, "code"),
        ({"email": "a@example.com", "purpose": "signup", "code": "1" * 40}, "code"),
        ({"code": "123456", "purpose": "signup"}, "non_field_errors"),
        ({"email": "a@example.com", "purpose": "nope", "code": "123456"}, "purpose"),
    ],
)
def test_verify_refuses_bad_input_with_field_errors(client, body, field):
    response = client.post(VERIFY_URL, body, content_type="application/json")

    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("url", [SEND_URL, VERIFY_URL])
@pytest.mark.parametrize("raw", ["{not json", "", "[1, 2]", '"just a string"', "null"])
def test_a_body_that_is_not_a_json_object_gets_400(client, url, raw):
    response = client.post(url, raw, content_type="application/json")

    assert response.status_code == 400
    assert response.json()


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_with_nan_or_infinity_is_not_json_and_gets_400_with_nothing_queued(client, constant):
    raw = f'{{"email": "jane@example.com", "purpose": "signup", "note": {constant}}}'

    response = client.post(SEND_URL, raw, content_type="application/json")

    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]
    assert OneTimeCode.objects.count() == 0


@pytest.mark.parametrize("url", [SEND_URL, VERIFY_URL])
def test_get_is_not_allowed(client, url):
    assert client.get(url).status_code == 405
