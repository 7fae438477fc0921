"""A delivery that needed retries says so in its task result and its RETRY states (what Flower shows)."""

from __future__ import annotations

import pytest
from celery import states
from django.utils import timezone

from otp.lifecycle import CodeRequest, issue_code
from otp.tasks import DeliveryRetry, deliver_otp

pytestmark = pytest.mark.django_db

REQUEST = CodeRequest(tenant_id="default", recipient="stalled@example.com", channel="email", purpose="login")


def test_a_delivery_that_ran_out_of_retries_says_how_many_it_took(settings, closed_port_url):
    port = int(closed_port_url.rsplit(":", 1)[1])
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.SMTP_HOST, settings.SMTP_PORT = "127.0.0.1", port  # refused: a provider fault every time
    settings.BREAKER_FAILURE_THRESHOLD = 100
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    result = deliver_otp.apply((str(otp.pk),))

    assert result.state == states.SUCCESS
    assert result.get() == f"failed after {settings.OTP_DELIVERY_MAX_RETRIES} retries"


def test_a_retry_carries_its_reason(settings, closed_port_url):
    port = int(closed_port_url.rsplit(":", 1)[1])
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    settings.SMTP_HOST, settings.SMTP_PORT = "127.0.0.1", port
    settings.BREAKER_FAILURE_THRESHOLD = 100
    settings.OTP_DELIVERY_MAX_RETRIES = 1
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    seen: list[object] = []

    from celery.signals import task_retry

    def record(sender=None, request=None, reason=None, **kwargs):
        seen.append(reason)

    task_retry.connect(record, weak=False)
    try:
        deliver_otp.apply((str(otp.pk),))
    finally:
        task_retry.disconnect(record)

    # Flower shows a retried task's exception: the reason, not a bare "Retry in 0.04s".
    assert [type(reason.exc) for reason in seen] == [DeliveryRetry]  # type: ignore[attr-defined]
    assert "DeliveryRetry('every provider failed')" in str(seen[0])
