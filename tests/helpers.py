"""Small helpers shared by tests."""

from __future__ import annotations

import os
import re
from typing import Any, NoReturn

import pytest

from messaging.providers.base import EmailMessage
from tests.processes import wait_for as wait_for  # polling lives in tests/processes.py; tests import it from here too

SEND_URL = "/api/v1/auth/otp/send"
VERIFY_URL = "/api/v1/auth/otp/verify"


def under_ci() -> bool:
    """Whether this run is CI's (`CI` set to anything but empty, 0, false or no)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_tool(reason: str) -> NoReturn:
    """A tool a test needs is absent: skip on a developer's machine, fail under CI.

    CI installs every tool (`make test` runs scripts/ensure-test-tools.sh), so there a missing one
    is a broken machine, not a reason to let the test's rule go unchecked.
    """
    if under_ci():
        pytest.fail(f"{reason} (CI is set, so this fails instead of skipping)")
    pytest.skip(reason)


def code_in(text: str, length: int = 6) -> str:
    match = re.search(rf"(?<!\d)(\d{{{length}}})(?!\d)", text)
    assert match, f"no {length}-digit code in the message"
    return match.group(1)


def otp_email(**overrides: Any) -> EmailMessage:
    """An OTP email as the worker renders one; keyword arguments replace fields."""
    fields: dict[str, Any] = {
        "to": "alice@example.org",
        "subject": "Your code",
        "text": "Your code is 123456",
        "html": "<p>Your code is <b>123456</b></p>",
        "from_email": "no-reply@otp.example.com",
        "from_name": "OTP Service",
    }
    return EmailMessage(**{**fields, **overrides})
