"""Unsafe settings refuse to start.

Each test starts a real process (manage.py, a Celery worker) with the environment an operator
would set, and sees it refuse with an error naming the variable.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from otpsite.processes import celery_worker_command
from tests.conftest import ROOT

BASE_ENV = {
    "DJANGO_SETTINGS_MODULE": "otpsite.settings",
    "DEBUG": "0",
    "SECRET_KEY": "a-production-like-secret-key-that-is-long-enough-0123456789abcdef",
    "DATABASE_URL": "postgres://otp@127.0.0.1:5432/otp",
    "MESSAGING_EMAIL_PROVIDERS": "smtp",
    "MESSAGING_SMS_PROVIDERS": "sns,twilio",
}


def manage_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **BASE_ENV, **overrides}
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_production_settings_start() -> None:
    result = manage_check()
    assert result.returncode == 0, result.stderr


def test_a_production_chain_naming_the_console_refuses_to_start() -> None:
    result = manage_check(MESSAGING_SMS_PROVIDERS="sns,twilio,console")
    assert result.returncode != 0
    assert "MESSAGING_SMS_PROVIDERS" in result.stderr and "console" in result.stderr


def test_the_default_sms_chain_has_no_console() -> None:
    env = {k: v for k, v in {**os.environ, **BASE_ENV}.items() if k != "MESSAGING_SMS_PROVIDERS"}
    code = "from django.conf import settings; import django; django.setup(); print(settings.MESSAGING_SMS_PROVIDERS)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['sns', 'twilio']"


def test_the_console_still_starts_in_development() -> None:
    assert manage_check(DEBUG="1", MESSAGING_SMS_PROVIDERS="console").returncode == 0


def test_a_worker_with_the_console_in_production_exits_naming_the_variable(tmp_path) -> None:
    env = {**os.environ, **BASE_ENV, "MESSAGING_SMS_PROVIDERS": "twilio,console"}
    result = subprocess.run(
        celery_worker_command(concurrency=1, hostname="refused@localhost"),
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "MESSAGING_SMS_PROVIDERS" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTP_TTL_SECONDS", "901"), ("OTP_TTL_SECONDS", "59"), ("OTP_MAX_ATTEMPTS", "11"), ("OTP_MAX_ATTEMPTS", "0")],
)
def test_unsafe_code_lifetimes_and_attempts_refuse_to_start(variable: str, value: str) -> None:
    result = manage_check(**{variable: value})
    assert result.returncode != 0
    assert "Configuration error" in result.stderr and variable in result.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [("OTP_TTL_SECONDS", "900"), ("OTP_TTL_SECONDS", "60"), ("OTP_MAX_ATTEMPTS", "10"), ("OTP_MAX_ATTEMPTS", "1")],
)
def test_the_bounds_themselves_are_accepted(variable: str, value: str) -> None:
    assert manage_check(**{variable: value}).returncode == 0


def test_a_database_other_than_postgresql_refuses_to_start() -> None:
    result = manage_check(DATABASE_URL="sqlite:///:memory:")
    assert result.returncode != 0
    assert "Configuration error" in result.stderr and "DATABASE_URL" in result.stderr and "PostgreSQL" in result.stderr
