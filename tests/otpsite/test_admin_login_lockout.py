"""Admin login: wrong passwords from many addresses slow guessing down but never lock the owner out."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = f"/{settings.ADMIN_URL}login/"
PASSWORD = "correct horse battery staple 42"


@pytest.fixture(autouse=True)
def admin_user() -> None:
    get_user_model().objects.create_superuser("ops", "ops@example.com", PASSWORD)


def login(username: str, password: str, ip: str) -> int | str:
    """302 when let in; "throttled" when refused for too many attempts; else the form's 200."""
    body = {"username": username, "password": password, "next": f"/{settings.ADMIN_URL}"}
    response = Client().post(ADMIN_LOGIN, body, REMOTE_ADDR=ip)
    return "throttled" if "Too many login attempts" in response.content.decode() else response.status_code


def test_five_wrong_passwords_from_five_addresses_do_not_lock_the_owner_out():
    assert [login("ops", "guess", f"198.51.100.{n}") for n in range(5)] == [200] * 5
    assert login("ops", PASSWORD, "203.0.113.50") == 302


def test_past_the_usernames_ceiling_each_address_gets_one_attempt_and_the_owner_still_gets_in():
    ceiling = settings.ADMIN_LOGIN_USER_CEILING
    assert ceiling == 50
    for n in range(ceiling):  # ten addresses, five attempts each: the username's ceiling is reached
        assert login("ops", f"guess-{n}", f"198.51.100.{n // 5}") == 200
    # An address that already tried is refused even the right password; a new one gets one try.
    assert login("ops", PASSWORD, "198.51.100.0") == "throttled"
    assert login("ops", "guess", "192.0.2.1") == 200
    assert login("ops", PASSWORD, "192.0.2.1") == "throttled"  # its second attempt
    assert login("ops", PASSWORD, "203.0.113.50") == 302  # the owner, from their own network
