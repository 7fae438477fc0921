"""A Content-Security-Policy everywhere; admin login throttled."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from tests.helpers import SEND_URL, VERIFY_URL

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = f"/{settings.ADMIN_URL}login/"


def csp_directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in header.split(";") if part.strip()}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/signup/", None),
        ("get", "/api/docs/", None),
        ("get", ADMIN_LOGIN, None),
        ("get", "/health/messaging", None),
        ("get", "/no-such-page", None),
        ("post", SEND_URL, {"email": "csp@example.com", "purpose": "login"}),
        ("post", VERIFY_URL, {"email": "csp@example.com", "purpose": "login", "code": "000000"}),
        ("post", SEND_URL, {"email": "not an address"}),
    ],
)
def test_every_answer_carries_a_strict_content_security_policy(client, method, path, body):
    response = client.get(path) if method == "get" else client.post(path, body, content_type="application/json")
    directives = csp_directives(response)
    assert directives["default-src"] == "default-src 'self'"
    assert directives["script-src"] == "script-src 'self'"  # no 'unsafe-inline', no CDN
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "http" not in response["Content-Security-Policy"]


@pytest.fixture
def admin_password() -> str:
    password = "correct horse battery staple 42"
    get_user_model().objects.create_superuser("ops", "ops@example.com", password)
    return password


def login(client: Client, username: str, password: str, ip: str = "198.51.100.7"):
    return client.post(
        ADMIN_LOGIN, {"username": username, "password": password, "next": f"/{settings.ADMIN_URL}"}, REMOTE_ADDR=ip
    )


def test_thirty_wrong_passwords_then_the_right_one_does_not_get_in(client, admin_password):
    answers = [login(client, "ops", f"guess-{n}").status_code for n in range(30)]
    assert answers == [200] * 30  # the form again, never a redirect into the admin
    response = login(client, "ops", admin_password)
    assert response.status_code == 200
    assert "Too many login attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_owner_gets_in_after_a_few_typos(client, admin_password):
    for n in range(settings.ADMIN_LOGIN_LIMIT_PER_USER - 1):
        assert login(client, "ops", f"typo-{n}").status_code == 200
    assert login(client, "ops", admin_password).status_code == 302


def test_one_ip_spraying_many_usernames_is_throttled(client, admin_password):
    for n in range(settings.ADMIN_LOGIN_LIMIT_PER_IP):
        login(client, f"user{n}", "guess")
    response = login(client, "ops", admin_password)
    assert response.status_code == 200 and "Too many login attempts" in response.content.decode()
    assert login(Client(), "ops", admin_password, ip="192.0.2.50").status_code == 302
