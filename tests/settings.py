"""Settings for the test run: the real settings module, fed a test environment.

The defaults below can be overridden from the shell. The database name and the Redis server
are the run's own (tests/run_isolation.py sets them before this module is read); worker
processes started by the tests inherit them.
"""

from __future__ import annotations

import os

_TEST_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "test-only-secret-key-which-is-long-enough-for-django-checks-0123456789",
    "SECURE_SSL_REDIRECT": "0",
    "DATABASE_CONN_MAX_AGE": "0",
    "MESSAGING_EMAIL_PROVIDERS": "ses,sendgrid,smtp",
    "MESSAGING_SMS_PROVIDERS": "sns,twilio",
    "OTP_RETRY_BACKOFF_BASE": "0.05",
    "OTP_RETRY_BACKOFF_MAX": "0.2",
    "OTP_DELIVERY_MAX_RETRIES": "2",
    "PROVIDER_CONNECT_TIMEOUT": "1",
    "PROVIDER_READ_TIMEOUT": "1.5",
    "LOG_LEVEL": "INFO",
    "CREDENTIALS_ENCRYPTION_KEYS": "dGVzdC1vbmx5LWNyZWRlbnRpYWxzLWtleS0wMTIzNDU=",
}
for _name, _value in _TEST_ENV.items():
    os.environ.setdefault(_name, _value)
# Provider credentials come only from the fixtures that start their stand-ins (which may hand a
# worker process stand-in credentials, saying so with TEST_WORKER_STANDIN_CREDENTIALS=1).
for _name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID"):
    if os.environ.get("TEST_WORKER_STANDIN_CREDENTIALS") != "1":
        os.environ.pop(_name, None)

from otpsite.settings import *  # noqa: E402,F403
