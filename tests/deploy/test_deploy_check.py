"""`manage.py check --deploy` is clean with production settings, and start-up refuses a missing key."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

from django.conf import settings

from tests import conftest

# Only what a production process would be given: nothing inherited from the test settings
# (tests/settings.py turns SECURE_SSL_REDIRECT off, for instance).
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "otpsite.settings",
    "DEBUG": "0",
    "ALLOWED_HOSTS": "otp.example.com",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def run_manage(*args: str, **env_overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        **PRODUCTION_ENV,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": conftest.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        **env_overrides,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=conftest.ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_fails_on_a_weakened_setting():
    # The same run with HSTS turned off must fail, or the test above would show nothing.
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_start_up_without_secret_key_fails_with_a_clear_error():
    result = run_manage("check", SECRET_KEY="")
    assert result.returncode != 0
    assert "Configuration error: SECRET_KEY must be set in the environment when DEBUG is off." in result.stderr
    assert "Traceback" not in result.stderr
