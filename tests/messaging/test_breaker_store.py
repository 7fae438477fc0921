"""Tests for rules that survived a mutation (issue 8): each one fails when its rule is broken."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from messaging import breaker as breaker_module
from messaging.breaker import CLOSED, breaker_for
from messaging.breaker_store import LocalStore
from messaging.models import AttemptOutcome, CommunicationLog, MessageStatus
from messaging.service import UnifiedMessagingService
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from tests.helpers import wait_for
from tests.workers.test_broker_outage import PrivateRedis

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")


@pytest.mark.django_db
def test_a_stream_of_invalid_numbers_never_opens_a_healthy_providers_breaker(twilio_standin, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    twilio_standin.fail_with_code(21211, "The 'To' number is not a valid phone number.")
    for _ in range(settings.BREAKER_FAILURE_THRESHOLD + 2):
        result = UnifiedMessagingService().send_sms("+447700900123", "Your code is 123456")
        assert result["status"] == MessageStatus.FAILED

    snapshot = breaker_for("twilio").snapshot()
    assert (snapshot.state, snapshot.failure_count) == (CLOSED, 0)
    assert CommunicationLog.objects.filter(attempts__outcome=AttemptOutcome.SKIPPED_BREAKER_OPEN).count() == 0


@pytest.mark.django_db
def test_a_code_that_expired_before_its_delivery_ran_is_not_sent(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(pk=otp.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=90)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert step.done and (log.status, log.error_message) == (
        MessageStatus.FAILED,
        "code replaced or expired before delivery",
    )
    assert smtp_sink.messages == [] and log.attempts.count() == 0


def test_the_breaker_goes_back_to_the_shared_store_when_redis_returns(settings, tmp_path, monkeypatch):
    server = PrivateRedis(tmp_path)
    server.start()
    monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
    monkeypatch.setattr(breaker_module, "_redis_down_until", {})
    monkeypatch.setattr(breaker_module, "REDIS_RETRY_SECONDS", 0.1)
    settings.REDIS_URL = server.url
    breaker = breaker_for("ses")
    try:
        assert breaker.snapshot().store == "redis"
        server.stop()
        assert breaker.snapshot().store == "local"
        server.start()

        wait_for(lambda: breaker.snapshot().store == "redis", timeout=10, what="the breaker to use Redis again")
        permit = breaker.acquire()
        assert permit is not None and permit.store == "redis"
        breaker.record_failure(permit, "timed out")
        # Another process (a fresh local store) sees the failure: it went to the shared store.
        monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
        assert breaker.snapshot().failure_count == 1
    finally:
        server.stop()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("admin_name", ["messaging_communicationlog", "otp_onetimecode"])
def test_staff_meet_read_only_logs_and_codes_no_save_button_and_a_full_post_changes_nothing(admin_client, admin_name):
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    obj_id = otp.log_id if admin_name.startswith("messaging") else otp.pk
    url = reverse(f"admin:{admin_name}_change", args=[obj_id])
    page = admin_client.get(url)
    form = {
        "recipient": "mallory@example.com",
        "status": "sent",
        "channel": "email",
        "purpose": "login",
        "tenant_id": "acme",
        "attempts": "0",
        "metadata": "{}",
        "expires_at_0": "2099-01-01",
        "expires_at_1": "00:00:00",
        "created_at_0": "2020-01-01",
        "created_at_1": "00:00:00",
        "attempts-TOTAL_FORMS": "0",
        "attempts-INITIAL_FORMS": "0",
        "_save": "Save",
    }

    posted = admin_client.post(url, form)

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert posted.status_code == 403
    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (log.recipient, log.status) == ("jane@example.com", MessageStatus.QUEUED)
    assert OneTimeCode.objects.get(pk=otp.pk).recipient == "jane@example.com"
