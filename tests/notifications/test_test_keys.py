"""A key of kind `test` runs the whole path against the sink: records and status, no provider, no cost."""

from __future__ import annotations

import pytest

from messaging.models import MessageStatus
from messaging.pricing import price_of
from notifications.delivery import deliver_tenant_message
from notifications.models import Message
from otp.delivery import deliver_one_time_code
from otp.models import OneTimeCode
from tests.helpers import SEND_URL
from tests.notifications.conftest import SMS, tenant_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_test(db):
    return tenant_client("acme", kind="test")


def test_a_test_keys_sms_is_recorded_as_sent_by_the_sink_and_costs_nothing(acme_test, twilio_standin, settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    url = acme_test.send({**SMS, "body": "ç" * 100}).json()["links"]["self"]

    step = deliver_tenant_message(Message.objects.get().pk, retries=0, lease_seconds=90)
    shown = acme_test.get(url).json()

    assert step.reason == MessageStatus.SENT and twilio_standin.messages == []
    assert (shown["status"], shown["provider"], shown["test"]) == ("sent", "test-sink", True)
    assert shown["cost"] == {"amount": "0", "currency": "USD"} and shown["segments"] == 2
    assert [(a["provider"], a["outcome"]) for a in shown["attempts"]] == [("test-sink", "sent")]


def test_a_live_keys_sms_of_the_same_tenant_goes_to_the_provider_and_is_priced_per_segment(
    acme, twilio_standin, settings
):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    acme.send({**SMS, "body": "ç" * 100})

    deliver_tenant_message(Message.objects.get().pk, retries=0, lease_seconds=90)
    message = Message.objects.select_related("log").get()

    assert len(twilio_standin.messages) == 1 and message.test is False
    assert message.segments == 2 and message.log.cost == 2 * price_of("twilio").per_message


def test_a_code_asked_for_with_a_test_key_goes_to_the_sink_not_the_inbox(acme_test, smtp_sink):
    sent = acme_test.client.post(SEND_URL, {"email": "jane@example.com"}, content_type="application/json",
                                 **acme_test.headers())  # fmt: skip
    otp = OneTimeCode.objects.select_related("log").get()

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=90)
    otp.log.refresh_from_db()

    assert sent.status_code == 202 and step.reason == MessageStatus.SENT
    assert (otp.log.provider_used, otp.log.cost) == ("test-sink", 0)
    assert smtp_sink.messages == []
