"""An error report (what Django mails to ADMINS or hands to a tracker) never holds the code."""

from __future__ import annotations

import sys

import pytest
from django.core.signals import got_request_exception
from django.test import Client
from django.utils import timezone
from django.views.debug import ExceptionReporter

from otp.codes import hash_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from tests.helpers import VERIFY_URL

pytestmark = pytest.mark.django_db


def test_a_crash_during_verification_reports_no_code(settings):
    request = CodeRequest(tenant_id="default", recipient="jane@example.com", channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code("918273", otp_id=str(otp.pk)))
    reports: list[str] = []

    def report(sender, request, **kwargs):
        reporter = ExceptionReporter(request, *sys.exc_info(), is_email=True)
        reports.append(reporter.get_traceback_text() + reporter.get_traceback_html())

    # A broken deployment: the HMAC key is missing, so hashing the submitted code raises.
    settings.OTP_HMAC_KEY = None
    got_request_exception.connect(report)
    try:
        response = Client(raise_request_exception=False).post(
            VERIFY_URL,
            {"email": "jane@example.com", "purpose": "login", "code": "918273"},
            content_type="application/json",
        )
    finally:
        got_request_exception.disconnect(report)

    assert response.status_code == 500
    assert "Traceback" not in response.content.decode()
    [text] = reports
    assert "AttributeError" in text and "hash_code" in text
    assert "918273" not in text
    assert settings.REDIS_URL not in text and settings.CELERY_BROKER_URL not in text
