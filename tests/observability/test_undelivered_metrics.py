"""The backlog gauges: how many accepted codes no provider has taken, and how long the oldest has waited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import CommunicationLog
from observability.collectors import undelivered_metrics
from otp.lifecycle import CodeRequest, issue_code

pytestmark = pytest.mark.django_db


def accepted(recipient: str, *, age: float) -> None:
    request = CodeRequest(tenant_id="acme", recipient=recipient, channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    CommunicationLog.objects.filter(pk=otp.log_id).update(created_at=timezone.now() - timedelta(seconds=age))


def gauges() -> dict[str, float]:
    return {
        sample.name: sample.value
        for family in undelivered_metrics()
        for sample in family.samples
        if sample.labels == {"channel": "email"}
    }


def test_a_stuck_code_shows_its_age_even_behind_newer_codes():
    accepted("stuck@example.com", age=300)
    accepted("fresh@example.com", age=1)

    email = gauges()

    assert email["messaging_undelivered_messages"] == 2
    assert 300 <= email["messaging_oldest_undelivered_age_seconds"] < 310  # above the 60 s alert, not 1 s
