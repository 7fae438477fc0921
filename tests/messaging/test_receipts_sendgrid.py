"""SendGrid Event Webhook receipts: signed by a key pair made here, applied to the log row."""

from __future__ import annotations

import json
import logging
import time

import pytest

from messaging.breaker import breaker_for
from messaging.models import Blame, CommunicationLog, DeliveryReceipt, MessageStatus, ReceiptEvent
from messaging.service import UnifiedMessagingService
from tests.standins.receipts import SendGridSigner, sendgrid_event

pytestmark = pytest.mark.django_db

URL = "/webhooks/sendgrid"


@pytest.fixture
def sent_by_sendgrid(settings, sendgrid_standin) -> CommunicationLog:
    settings.MESSAGING_EMAIL_PROVIDERS = ["sendgrid"]
    result = UnifiedMessagingService().send_email("alice@example.org", "Your code", "<p>code</p>", "code")
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "sendgrid") and log.provider_message_id
    return log


def post_events(client, signer: SendGridSigner, *events: dict, timestamp: int | None = None, headers=None):
    body = json.dumps(list(events)).encode()
    signed = signer.headers(body, timestamp=timestamp or int(time.time()))
    return client.post(URL, body, content_type="application/json", headers=headers or signed)


def test_a_delivered_event_marks_the_log_delivered(client, sendgrid_signer, sent_by_sendgrid):
    response = post_events(client, sendgrid_signer, sendgrid_event(sent_by_sendgrid.provider_message_id, "delivered"))

    sent_by_sendgrid.refresh_from_db()
    assert response.status_code == 200
    assert sent_by_sendgrid.status == MessageStatus.DELIVERED and sent_by_sendgrid.delivered_at is not None
    receipt = sent_by_sendgrid.receipts.get()
    assert (receipt.provider, receipt.event, receipt.changed_status) == ("sendgrid", ReceiptEvent.DELIVERED, True)


def test_a_hard_bounce_blames_the_recipient_and_leaves_the_breaker_alone(client, sendgrid_signer, sent_by_sendgrid):
    bounce = sendgrid_event(
        sent_by_sendgrid.provider_message_id, "bounce", type="bounce", status="5.1.1", reason="550 5.1.1 no such user"
    )
    post_events(client, sendgrid_signer, bounce)

    sent_by_sendgrid.refresh_from_db()
    assert sent_by_sendgrid.status == MessageStatus.BOUNCED
    receipt = sent_by_sendgrid.receipts.get()
    assert (receipt.blame, receipt.code, receipt.reason) == (Blame.RECIPIENT, "5.1.1", "550 5.1.1 no such user")
    assert breaker_for("sendgrid").snapshot().failure_count == 0


def test_a_block_of_sendgrids_ip_is_a_provider_failure_counted_by_its_breaker(
    client, sendgrid_signer, sent_by_sendgrid, django_capture_on_commit_callbacks
):
    blocked = sendgrid_event(sent_by_sendgrid.provider_message_id, "bounce", type="blocked", status="5.7.1")
    with django_capture_on_commit_callbacks(execute=True):
        post_events(client, sendgrid_signer, blocked)

    sent_by_sendgrid.refresh_from_db()
    assert sent_by_sendgrid.status == MessageStatus.FAILED
    assert sent_by_sendgrid.receipts.get().blame == Blame.PROVIDER
    assert breaker_for("sendgrid").snapshot().failure_count == 1


def test_the_same_batch_twice_records_one_receipt_and_counts_one_failure(
    client, sendgrid_signer, sent_by_sendgrid, django_capture_on_commit_callbacks
):
    blocked = sendgrid_event(sent_by_sendgrid.provider_message_id, "bounce", type="blocked")
    with django_capture_on_commit_callbacks(execute=True):
        first = post_events(client, sendgrid_signer, blocked)
        again = post_events(client, sendgrid_signer, blocked)

    assert (first.status_code, again.status_code) == (200, 200)
    assert sent_by_sendgrid.receipts.count() == 1
    assert breaker_for("sendgrid").snapshot().failure_count == 1


def test_a_late_deferred_or_bounce_never_undoes_delivered(client, sendgrid_signer, sent_by_sendgrid):
    sg_id = sent_by_sendgrid.provider_message_id
    post_events(client, sendgrid_signer, sendgrid_event(sg_id, "delivered"))
    sent_by_sendgrid.refresh_from_db()
    delivered_at = sent_by_sendgrid.delivered_at

    post_events(client, sendgrid_signer, sendgrid_event(sg_id, "deferred"), sendgrid_event(sg_id, "bounce"))

    sent_by_sendgrid.refresh_from_db()
    assert (sent_by_sendgrid.status, sent_by_sendgrid.delivered_at) == (MessageStatus.DELIVERED, delivered_at)
    assert list(sent_by_sendgrid.receipts.values_list("event", "changed_status")) == [
        (ReceiptEvent.DELIVERED, True),
        (ReceiptEvent.DEFERRED, False),
        (ReceiptEvent.BOUNCED, False),
    ]


def test_deferred_then_delivered_in_one_batch_ends_delivered(client, sendgrid_signer, sent_by_sendgrid):
    sg_id = sent_by_sendgrid.provider_message_id
    post_events(client, sendgrid_signer, sendgrid_event(sg_id, "processed"), sendgrid_event(sg_id, "deferred"),
                sendgrid_event(sg_id, "delivered"))  # fmt: skip

    sent_by_sendgrid.refresh_from_db()
    assert sent_by_sendgrid.status == MessageStatus.DELIVERED
    assert sent_by_sendgrid.receipts.count() == 2  # "processed" says nothing about delivery


def test_an_unknown_message_id_gets_200_a_log_line_and_changes_nothing(
    client, sendgrid_signer, sent_by_sendgrid, caplog
):
    with caplog.at_level(logging.INFO, logger="messaging.receipts"):
        response = post_events(client, sendgrid_signer, sendgrid_event("sg-not-ours", "delivered"))

    assert response.status_code == 200
    assert "event=receipt.unknown_message provider=sendgrid" in caplog.text
    assert DeliveryReceipt.objects.count() == 0
    sent_by_sendgrid.refresh_from_db()
    assert sent_by_sendgrid.status == MessageStatus.SENT


def refused(client, sent_log: CommunicationLog, response) -> None:
    assert response.status_code == 403
    sent_log.refresh_from_db()
    assert sent_log.status == MessageStatus.SENT and DeliveryReceipt.objects.count() == 0


def test_a_signature_from_another_key_is_refused(client, sendgrid_signer, sent_by_sendgrid):
    event = sendgrid_event(sent_by_sendgrid.provider_message_id, "delivered")
    refused(client, sent_by_sendgrid, post_events(client, SendGridSigner(), event))


def test_a_missing_signature_is_refused(client, sendgrid_signer, sent_by_sendgrid):
    event = sendgrid_event(sent_by_sendgrid.provider_message_id, "delivered")
    refused(client, sent_by_sendgrid, post_events(client, sendgrid_signer, event, headers={"X-Other": "1"}))


def test_a_body_changed_after_signing_is_refused(client, sendgrid_signer, sent_by_sendgrid):
    body = json.dumps([sendgrid_event(sent_by_sendgrid.provider_message_id, "bounce")]).encode()
    headers = sendgrid_signer.headers(body, timestamp=int(time.time()))
    tampered = body.replace(b'"bounce"', b'"delivered"')
    refused(client, sent_by_sendgrid, client.post(URL, tampered, content_type="application/json", headers=headers))


def test_a_validly_signed_timestamp_older_than_ten_minutes_is_refused_as_a_replay(
    client, sendgrid_signer, sent_by_sendgrid
):
    event = sendgrid_event(sent_by_sendgrid.provider_message_id, "delivered")
    old = int(time.time()) - 601
    refused(client, sent_by_sendgrid, post_events(client, sendgrid_signer, event, timestamp=old))


def test_a_validly_signed_timestamp_eleven_minutes_in_the_future_is_refused(client, sendgrid_signer, sent_by_sendgrid):
    event = sendgrid_event(sent_by_sendgrid.provider_message_id, "delivered")
    ahead = int(time.time()) + 11 * 60
    refused(client, sent_by_sendgrid, post_events(client, sendgrid_signer, event, timestamp=ahead))


def test_a_signed_body_that_is_not_a_list_of_events_gets_400(client, sendgrid_signer):
    body = b'{"event": "delivered"}'
    response = client.post(URL, body, content_type="application/json",
                           headers=sendgrid_signer.headers(body, timestamp=int(time.time())))  # fmt: skip
    assert response.status_code == 400


def test_without_a_configured_key_every_callback_is_refused(client, settings, sendgrid_signer, sent_by_sendgrid):
    settings.SENDGRID_WEBHOOK_PUBLIC_KEY = ""
    event = sendgrid_event(sent_by_sendgrid.provider_message_id, "delivered")
    refused(client, sent_by_sendgrid, post_events(client, sendgrid_signer, event))


def test_a_large_signed_batch_is_read_and_an_oversized_one_gets_413(client, sendgrid_signer, sent_by_sendgrid):
    sg_id = sent_by_sendgrid.provider_message_id
    # About 200 KB: past the 64 KB the API bodies may carry, well within a SendGrid batch.
    batch = [sendgrid_event(sg_id, "processed") for _ in range(1000)] + [sendgrid_event(sg_id, "delivered")]
    assert post_events(client, sendgrid_signer, *batch).status_code == 200
    sent_by_sendgrid.refresh_from_db()
    assert sent_by_sendgrid.status == MessageStatus.DELIVERED

    huge = json.dumps([sendgrid_event(sg_id, "processed", pad="x" * 1024) for _ in range(1100)]).encode()
    headers = sendgrid_signer.headers(huge, timestamp=int(time.time()))
    assert client.post(URL, huge, content_type="application/json", headers=headers).status_code == 413
