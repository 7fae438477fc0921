"""The API's error answers come from one handler (otpsite.json_errors): never cached, and a database
that cannot be reached is a 503 the client may retry, never a 500."""

from __future__ import annotations

import logging
import socket

import pytest
from django.db import connection

from tests.helpers import SEND_URL

UNAVAILABLE = {"detail": "The service is temporarily unavailable. Try again shortly."}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_error_answer_of_a_view_that_sets_no_cache_header_itself_is_not_cached(client):
    response = client.post("/.well-known/jwks.json")

    assert response.status_code == 405
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db(transaction=True)
def test_a_database_that_cannot_be_reached_answers_503_not_500(client, caplog):
    database = connection.settings_dict
    saved = database["HOST"], database["PORT"]
    connection.close()
    database["HOST"], database["PORT"] = "127.0.0.1", closed_port()  # nothing listens: refused at once
    try:
        with caplog.at_level(logging.WARNING, logger="otp.api"):
            response = client.post(SEND_URL, {"email": "jane@example.com"}, content_type="application/json")
    finally:
        connection.close()
        database["HOST"], database["PORT"] = saved

    assert (response.status_code, response.json()) == (503, UNAVAILABLE)
    assert "no-store" in response["Cache-Control"]
    events = [r.getMessage() for r in caplog.records if r.name == "otp.api"]
    assert events == ["event=api.database_unavailable error=OperationalError"]
