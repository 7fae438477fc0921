"""A tenant message whose provider sends no receipt in time is resent once through the next provider."""

from __future__ import annotations

from datetime import timedelta

import pytest

from messaging.receipts.base import Receipt, apply_receipt
from notifications.delivery import deliver_tenant_message
from notifications.models import Message
from notifications.receipt_timeout import resend_messages_without_receipt
from notifications.resend import resend_through_next_provider
from tests.notifications.conftest import SMS

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms_chain(settings, twilio_standin, aws):
    """Twilio first (it reports delivery to our public URL), then SNS on moto."""
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    settings.MESSAGING_WEBHOOK_BASE_URL = "https://otp.example.com"
    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 120
    return twilio_standin, aws


def sent_through_twilio(acme) -> Message:
    url = acme.send(SMS).json()["links"]["self"]
    deliver_tenant_message(Message.objects.latest("id").pk, retries=0, lease_seconds=90)
    message = Message.objects.select_related("log").get(log__message_id=url.rsplit("/", 1)[1])
    assert message.log.provider_used == "twilio"
    return message


def sweep(at) -> int:
    return resend_messages_without_receipt(
        now=at, enqueue=lambda log_id, reason: resend_through_next_provider(log_id, reason=reason, now=at)
    )


def test_no_receipt_within_the_timeout_resends_the_same_sms_once_through_the_next_provider(acme, sms_chain):
    twilio, aws = sms_chain
    message = sent_through_twilio(acme)
    sent_at = message.log.sent_at

    assert sweep(sent_at + timedelta(seconds=119)) == 0
    assert sweep(sent_at + timedelta(seconds=121)) == 1
    assert sweep(sent_at + timedelta(seconds=180)) == 0

    [resent] = aws.sent_sms()
    shown = acme.get(f"/api/v1/messages/{message.log.message_id}").json()
    assert resent["message"] == SMS["body"] and len(twilio.messages) == 1
    assert shown["provider"] == "sns" and shown["attempts"][-1]["reason"] == "resent: no receipt in time"


def test_a_message_with_a_receipt_or_past_a_day_or_with_the_timeout_off_is_not_resent(acme, sms_chain, settings):
    with_receipt, old = sent_through_twilio(acme), sent_through_twilio(acme)
    apply_receipt(Receipt(provider="twilio", provider_message_id=with_receipt.log.provider_message_id,
                          event_key="k1", event="deferred"))  # fmt: skip
    old.log.__class__.objects.filter(pk=old.log_id).update(sent_at=old.log.sent_at - timedelta(days=2))
    later = with_receipt.log.sent_at + timedelta(seconds=121)

    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 0
    assert sweep(later) == 0
    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 120
    assert sweep(later) == 0 and sms_chain[1].sent_sms() == []
