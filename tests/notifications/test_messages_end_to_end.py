"""Tenant messages through a real worker: the chain, cost records, receipts and receipt-driven failover."""

from __future__ import annotations

from decimal import Decimal

import pytest

from messaging.models import MessageStatus
from notifications.models import Message
from tests.helpers import wait_for
from tests.notifications.conftest import EMAIL, SMS
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.receipts import post_twilio_callback

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


@pytest.fixture
def worker(settings, live_server, smtp_sink, twilio_standin, aws, moto_url, start_worker):
    """A real worker: email to the SMTP sink; SMS through Twilio (receipts to the live server), then SNS."""
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    return start_worker(
        TEST_WORKER_STANDIN_CREDENTIALS="1",
        MESSAGING_SMS_PROVIDERS="twilio,sns",
        MESSAGING_WEBHOOK_BASE_URL=live_server.url,
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=settings.TWILIO_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio_standin.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=settings.AWS_REGION,
        AWS_ENDPOINT_URL=moto_url,
    )


def settled(acme, url: str, *statuses: str) -> dict:
    return wait_for(lambda: (shown := acme.get(url).json())["status"] in statuses and shown, what=f"{url} {statuses}")


def twilio_says(settings, sid: str, status: str, code: str = "") -> int:
    form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": TWILIO_SID, "To": SMS["to"], "From": TWILIO_FROM}
    if code:
        form["ErrorCode"] = code
    return post_twilio_callback(f"{settings.MESSAGING_WEBHOOK_BASE_URL}/webhooks/twilio", form,
                                auth_token=settings.TWILIO_AUTH_TOKEN)  # fmt: skip


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
    per_message = Decimal(str(settings.MESSAGING_PRICES["twilio"]["per_message"]))
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
