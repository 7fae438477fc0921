"""Request bodies: a body past API_MAX_BODY_BYTES gets 413 (with or without a Content-Length) and
JSON nested too deeply gets 400, before anything is queued; a normal body still works."""

from __future__ import annotations

import io

import pytest

from otp.models import OneTimeCode
from otpsite.parsers import LimitedJSONParser, RequestTooLarge
from tests.helpers import SEND_URL, VERIFY_URL

pytestmark = pytest.mark.django_db(transaction=True)


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
