"""Twilio status callbacks, signed with the auth token, and the StatusCallback the send asks for."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from celery.signals import before_task_publish

from messaging.breaker import breaker_for
from messaging.models import Blame, CommunicationLog, DeliveryReceipt, MessageStatus, ReceiptEvent
from messaging.service import UnifiedMessagingService
from tests.standins.fixtures import TWILIO_SID
from tests.standins.receipts import twilio_callback

pytestmark = pytest.mark.django_db

PUBLIC_BASE = "https://otp.example.com"
URL = "/webhooks/twilio"


@pytest.fixture
def sent_by_twilio(settings, twilio_standin) -> CommunicationLog:
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    settings.MESSAGING_WEBHOOK_BASE_URL = PUBLIC_BASE
    result = UnifiedMessagingService().send_sms("+14155550123", "Your code is 123456")
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "twilio")
    return log


def callback(client, form: dict[str, str], *, token: str = "test-auth-token", signed_url: str = PUBLIC_BASE + URL):
    """POST as Twilio would: it signs the public URL it called, which the proxy forwards to us."""
    full = {"AccountSid": TWILIO_SID, "To": "+14155550123", "From": "+15005550006", **form}
    headers = twilio_callback(signed_url, full, auth_token=token)
    return client.post(URL, full, headers=headers)


def test_the_send_asks_twilio_to_call_back_at_the_public_url(sent_by_twilio, twilio_standin):
    assert twilio_standin.messages[0]["StatusCallback"] == "https://otp.example.com/webhooks/twilio"


def test_without_a_public_base_url_no_status_callback_is_asked_for(settings, twilio_standin):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    settings.MESSAGING_WEBHOOK_BASE_URL = ""
    UnifiedMessagingService().send_sms("+14155550123", "Your code is 123456")
    assert "StatusCallback" not in twilio_standin.messages[0]


def test_sent_then_delivered_marks_the_log_delivered(client, sent_by_twilio):
    sid = sent_by_twilio.provider_message_id
    assert callback(client, {"MessageSid": sid, "MessageStatus": "sent"}).status_code == 200
    assert callback(client, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 200

    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == MessageStatus.DELIVERED and sent_by_twilio.delivered_at is not None
    assert list(sent_by_twilio.receipts.values_list("event", flat=True)) == [ReceiptEvent.DELIVERED]


@pytest.fixture
def published_tasks() -> Iterator[list[tuple[str, list]]]:
    """(name, positional arguments) of each Celery task this process publishes while the test runs."""
    published: list[tuple[str, list]] = []

    def capture(sender=None, body=None, **_):
        args = body[0] if isinstance(body, (list, tuple)) else (body or {}).get("args", [])
        published.append((sender, list(args)))

    before_task_publish.connect(capture, weak=False)
    yield published
    before_task_publish.disconnect(capture)


def test_undelivered_to_an_unreachable_handset_blames_the_recipient_and_resends_nothing(
    client, sent_by_twilio, django_capture_on_commit_callbacks, published_tasks
):
    sent_by_twilio.metadata = {"kind": "otp"}
    sent_by_twilio.save(update_fields=["metadata"])
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, form)

    sent_by_twilio.refresh_from_db()
    receipt = sent_by_twilio.receipts.get()
    assert sent_by_twilio.status == MessageStatus.FAILED
    assert (receipt.blame, receipt.code) == (Blame.RECIPIENT, "30003")
    assert breaker_for("twilio").snapshot().failure_count == 0
    assert published_tasks == []


def test_undelivered_30008_of_a_code_publishes_one_resend_of_that_log(
    client, sent_by_twilio, django_capture_on_commit_callbacks, published_tasks
):
    sent_by_twilio.metadata = {"kind": "otp"}
    sent_by_twilio.save(update_fields=["metadata"])
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30008"}
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, form)
        callback(client, {**form, "MessageStatus": "failed"})  # Twilio's second word on it: no second resend

    assert published_tasks == [("workers.tasks.resend_otp", [sent_by_twilio.pk, "twilio reported failed 30008"])]


def test_a_failure_of_unknown_blame_resends_but_never_counts_against_a_healthy_breaker(
    client, sent_by_twilio, django_capture_on_commit_callbacks, published_tasks
):
    sent_by_twilio.metadata = {"kind": "otp"}
    sent_by_twilio.save(update_fields=["metadata"])
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30099"}
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, form)

    assert sent_by_twilio.receipts.get().blame == Blame.UNKNOWN
    snapshot = breaker_for("twilio").snapshot()
    assert (snapshot.state, snapshot.failure_count) == ("closed", 0)
    assert published_tasks == [("workers.tasks.resend_otp", [sent_by_twilio.pk, "twilio reported failed 30099"])]


def test_undelivered_30008_counts_against_twilios_breaker(client, sent_by_twilio, django_capture_on_commit_callbacks):
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "undelivered", "ErrorCode": "30008"}
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, form)

    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == MessageStatus.FAILED
    assert sent_by_twilio.receipts.get().blame == Blame.PROVIDER
    snapshot = breaker_for("twilio").snapshot()
    assert snapshot.failure_count == 1 and "30008" in snapshot.last_error


def test_a_late_failed_never_undoes_delivered(client, sent_by_twilio):
    sid = sent_by_twilio.provider_message_id
    callback(client, {"MessageSid": sid, "MessageStatus": "delivered"})
    callback(client, {"MessageSid": sid, "MessageStatus": "failed", "ErrorCode": "30008"})

    sent_by_twilio.refresh_from_db()
    assert sent_by_twilio.status == MessageStatus.DELIVERED


def test_the_same_callback_twice_records_one_receipt(client, sent_by_twilio):
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "delivered"}
    assert (callback(client, form).status_code, callback(client, form).status_code) == (200, 200)
    assert DeliveryReceipt.objects.count() == 1


def test_an_unknown_sid_gets_200_and_changes_nothing(client, sent_by_twilio):
    assert callback(client, {"MessageSid": "SMnotours", "MessageStatus": "delivered"}).status_code == 200
    assert DeliveryReceipt.objects.count() == 0


def refused(sent_log: CommunicationLog, response) -> None:
    assert response.status_code == 403
    sent_log.refresh_from_db()
    assert sent_log.status == MessageStatus.SENT and DeliveryReceipt.objects.count() == 0


def test_a_signature_made_with_another_token_is_refused(client, sent_by_twilio):
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "delivered"}
    refused(sent_by_twilio, callback(client, form, token="someone-elses-token"))


def test_a_signature_over_another_url_is_refused(client, sent_by_twilio):
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "delivered"}
    refused(sent_by_twilio, callback(client, form, signed_url="https://evil.example/webhooks/twilio"))


def test_a_missing_signature_is_refused(client, sent_by_twilio):
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "delivered"}
    refused(sent_by_twilio, client.post(URL, form))


@pytest.mark.parametrize("empty", ["", "  "])
def test_without_an_auth_token_a_callback_signed_with_the_empty_key_is_refused(client, settings, sent_by_twilio, empty):
    settings.TWILIO_AUTH_TOKEN = empty
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "delivered"}
    refused(sent_by_twilio, callback(client, form, token=empty))


def test_a_signed_callback_without_a_status_gets_400(client, sent_by_twilio):
    assert callback(client, {"MessageSid": sent_by_twilio.provider_message_id}).status_code == 400


def test_each_new_receipt_is_counted_once_in_metrics(
    client, settings, sent_by_twilio, django_capture_on_commit_callbacks
):
    from tests.metrics_helpers import TOKEN, Scrape

    settings.METRICS_TOKEN = TOKEN

    def delivered_receipts() -> float:
        text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
        return Scrape(text).value("messaging_receipts_total", provider="twilio", status=ReceiptEvent.DELIVERED)

    before = delivered_receipts()
    form = {"MessageSid": sent_by_twilio.provider_message_id, "MessageStatus": "delivered"}
    with django_capture_on_commit_callbacks(execute=True):
        callback(client, form)
        callback(client, form)

    assert delivered_receipts() == before + 1
