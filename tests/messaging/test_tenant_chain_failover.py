"""Receipt-driven resends and the failover metric follow the message's tenant's chain, not the
platform's: a tenant whose chain starts with Twilio while the platform's holds only SNS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from messaging.models import AttemptOutcome, Channel, CommunicationLog, MessageStatus
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from otp.resend import resend_codes_without_receipt, resend_through_next_provider
from tests.messaging.test_tenant_providers import own_chain

pytestmark = pytest.mark.django_db

REQUEST = CodeRequest(tenant_id="acme", recipient="+14155550123", channel="sms", purpose="login")


def failovers(provider: str) -> float:
    return REGISTRY.get_sample_value("messaging_failovers_total", {"channel": "sms", "provider": provider}) or 0.0


@pytest.fixture
def acme_twilio_first(settings, twilio_standin, aws):
    settings.MESSAGING_SMS_PROVIDERS = ["sns"]  # the platform's chain: SNS alone
    settings.MESSAGING_WEBHOOK_BASE_URL = "https://otp.example.com"  # Twilio reports delivery
    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 120
    own_chain("acme", Channel.SMS, "twilio,sns")
    return twilio_standin, aws


def send_code() -> CommunicationLog:
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    assert deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=90).reason == MessageStatus.SENT
    otp.refresh_from_db()
    return otp.log


def test_a_send_by_the_first_of_the_tenants_chain_is_no_failover_and_the_next_one_is(acme_twilio_first):
    before_twilio, before_sns = failovers("twilio"), failovers("sns")
    log = send_code()
    assert log.provider_used == "twilio"
    assert failovers("twilio") == before_twilio  # first of acme's chain, though not in the platform's

    resend_through_next_provider(log.pk, reason="no receipt in time", now=timezone.now())

    assert failovers("sns") == before_sns + 1  # the second of acme's chain


def test_the_silence_sweep_waits_for_the_tenants_provider_and_resends_along_its_chain(acme_twilio_first):
    twilio, aws = acme_twilio_first
    log = send_code()

    def sweep(at) -> int:
        enqueue = lambda log_id, reason: resend_through_next_provider(log_id, reason=reason, now=at)  # noqa: E731
        return resend_codes_without_receipt(now=at, enqueue=enqueue)

    assert sweep(log.sent_at + timedelta(seconds=119)) == 0
    assert sweep(log.sent_at + timedelta(seconds=121)) == 1

    assert len(twilio.messages) == 1 and len(aws.sent_sms()) == 1
    resend = CommunicationLog.objects.exclude(pk=log.pk).get()
    assert list(resend.attempts.values_list("provider", "outcome")) == [("sns", AttemptOutcome.SENT)]
    assert resend.tenant_id == "acme"
