"""Tenant messages through a real worker: the chain, cost records, receipts and receipt-driven failover."""

from __future__ import annotations

import pytest

from messaging.models import MessageStatus
from messaging.pricing import price_of
from notifications.models import Message
from tests.helpers import wait_for
from tests.notifications.conftest import EMAIL, SMS, settled, twilio_says

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def test_an_inline_email_goes_through_the_chain_and_its_attempts_show_in_the_api(acme, worker, smtp_sink):
    url = acme.send(EMAIL).json()["links"]["self"]

    [received] = smtp_sink.wait_for(1)
    shown = settled(acme, url, MessageStatus.SENT)
    assert received["Subject"] == "Your receipt" and received.get_body(("plain",)).get_content().strip() == "Thanks!"
    assert shown["provider"] == "smtp"
    # SES on moto refuses the unverified sender, SendGrid has no key here: the chain fails over to SMTP.
    assert [(a["provider"], a["outcome"]) for a in shown["attempts"]] == [
        ("ses", "provider_fault"), ("sendgrid", "skipped_not_configured"), ("smtp", "sent")]  # fmt: skip


def test_an_sms_is_priced_by_segment_and_a_delivery_receipt_marks_it_delivered(acme, worker, twilio_standin, settings):
    body = "Größe " + "ç" * 200  # ç is not GSM-7: UCS-2, 206 units, 4 segments of 67
    url = acme.send({**SMS, "body": body}).json()["links"]["self"]
    sent = settled(acme, url, MessageStatus.SENT)
    [carried] = twilio_standin.messages
    sid = Message.objects.get().log.provider_message_id

    assert carried["Body"] == body and (sent["segments"], sent["encoding"]) == (4, "UCS-2")
    per_message = price_of("twilio").per_message
    assert sent["cost"] == {"amount": f"{(per_message * 4).normalize():f}", "currency": "USD"}
    assert twilio_says(settings, sid, "delivered") == 200
    delivered = settled(acme, url, MessageStatus.DELIVERED)
    assert [(r["provider"], r["event"]) for r in delivered["receipts"]] == [("twilio", "delivered")]
    assert delivered["delivered_at"] is not None


def test_a_failure_receipt_blaming_twilio_resends_the_same_sms_once_through_sns(acme, worker, twilio_standin, aws,
                                                                                settings):  # fmt: skip
    url = acme.send(SMS).json()["links"]["self"]
    settled(acme, url, MessageStatus.SENT)
    sid = Message.objects.get().log.provider_message_id

    assert twilio_says(settings, sid, "undelivered", "30008") == 200
    [resent] = wait_for(aws.sent_sms, what="SNS to carry the resend")
    shown = settled(acme, url, MessageStatus.SENT)
    assert twilio_says(settings, sid, "failed", "30008") == 200  # a repeat asks for nothing more

    assert resent["message"] == SMS["body"] and resent["phone_number"] == SMS["to"]
    assert shown["provider"] == "sns"
    assert [(a["provider"], a["outcome"], a["reason"]) for a in shown["attempts"]] == [
        ("twilio", "sent", None), ("sns", "sent", "resent: twilio reported failed 30008")]  # fmt: skip
    assert len(twilio_standin.messages) == 1 and len(aws.sent_sms()) == 1
