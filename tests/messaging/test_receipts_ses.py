"""SES events through an SNS HTTPS subscription, signed with a certificate made in the test."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from messaging.models import Blame, CommunicationLog, DeliveryReceipt, MessageStatus, ReceiptEvent
from messaging.service import UnifiedMessagingService
from tests.standins.receipts import CERT_PATH, TOPIC_ARN, SnsStandIn, ses_event

pytestmark = pytest.mark.django_db

URL = "/webhooks/ses"


@pytest.fixture
def sent_by_ses(settings, aws) -> CommunicationLog:
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses"]
    aws.verify_sender(settings.OTP_FROM_EMAIL)
    result = UnifiedMessagingService().send_email("alice@example.org", "Your code", "<p>code</p>", "code")
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "ses")
    return log


def iso_ms(moment: dt.datetime) -> str:
    """A time as SES writes it: 2026-01-01T10:00:00.000Z."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def post(client, body: bytes, kind: str = "Notification"):
    return client.post(URL, body, content_type="text/plain", headers={"x-amz-sns-message-type": kind})


@pytest.mark.parametrize("version", ["1", "2"])
def test_a_delivery_signed_with_either_signature_version_marks_the_log_delivered(
    client, sns_standin: SnsStandIn, sent_by_ses, version
):
    delivered_at = sent_by_ses.sent_at.replace(microsecond=0) + dt.timedelta(seconds=2)
    event = ses_event("Delivery", sent_by_ses.provider_message_id, timestamp=iso_ms(delivered_at))
    response = post(client, sns_standin.sign(sns_standin.ses_notification(event), version=version))

    sent_by_ses.refresh_from_db()
    assert response.status_code == 200
    assert sent_by_ses.status == MessageStatus.DELIVERED
    assert sent_by_ses.delivered_at == delivered_at


def test_a_permanent_bounce_marks_the_log_bounced_with_the_smtp_status(client, sns_standin, sent_by_ses):
    bounce = ses_event("Bounce", sent_by_ses.provider_message_id, bounceType="Permanent", bounceSubType="General",
                       bouncedRecipients=[{"emailAddress": "alice@example.org", "status": "5.1.1"}])  # fmt: skip
    post(client, sns_standin.sign(sns_standin.ses_notification(bounce)))

    sent_by_ses.refresh_from_db()
    receipt = sent_by_ses.receipts.get()
    assert sent_by_ses.status == MessageStatus.BOUNCED
    assert (receipt.event, receipt.blame, receipt.code, receipt.reason) == (
        ReceiptEvent.BOUNCED,
        Blame.RECIPIENT,
        "5.1.1",
        "Permanent/General",
    )


def test_the_signing_certificate_is_fetched_once_and_cached(client, sns_standin, sent_by_ses):
    for kind in ("DeliveryDelay", "Delivery"):
        post(client, sns_standin.sign(sns_standin.ses_notification(ses_event(kind, sent_by_ses.provider_message_id))))

    assert sns_standin.fetched("cert") == [CERT_PATH]
    assert sent_by_ses.receipts.count() == 2


def test_the_same_notification_twice_records_one_receipt(client, sns_standin, sent_by_ses):
    body = sns_standin.sign(sns_standin.ses_notification(ses_event("Delivery", sent_by_ses.provider_message_id)))
    assert (post(client, body).status_code, post(client, body).status_code) == (200, 200)
    assert sent_by_ses.receipts.count() == 1


def refused(sent_log: CommunicationLog, response) -> None:
    assert response.status_code == 403
    sent_log.refresh_from_db()
    assert sent_log.status == MessageStatus.SENT and DeliveryReceipt.objects.count() == 0


def test_a_certificate_on_a_host_not_allowed_is_never_fetched_and_the_message_is_refused(
    client, sns_standin, sent_by_ses
):
    notification = sns_standin.ses_notification(ses_event("Delivery", sent_by_ses.provider_message_id))
    # The same server, named by a host the pattern does not allow.
    elsewhere = sns_standin.cert_url.replace("127.0.0.1", "localhost")
    plain_http = sns_standin.cert_url.replace("https://", "http://")
    for cert_url in (elsewhere, plain_http):
        refused(sent_by_ses, post(client, sns_standin.sign(notification, cert_url=cert_url)))
    assert sns_standin.requests == []


def test_a_message_changed_after_signing_is_refused(client, sns_standin, sent_by_ses):
    bounce = ses_event("Bounce", sent_by_ses.provider_message_id, bounceType="Permanent")
    signed = json.loads(sns_standin.sign(sns_standin.ses_notification(bounce)))
    signed["Message"] = json.dumps(ses_event("Delivery", sent_by_ses.provider_message_id))
    refused(sent_by_ses, post(client, json.dumps(signed).encode()))


def test_a_missing_signature_is_refused(client, sns_standin, sent_by_ses):
    signed = json.loads(sns_standin.sign(sns_standin.ses_notification(ses_event("Delivery", "x"))))
    del signed["Signature"]
    refused(sent_by_ses, post(client, json.dumps(signed).encode()))


def test_a_validly_signed_notification_older_than_ten_minutes_is_refused_as_a_replay(client, sns_standin, sent_by_ses):
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
    event = ses_event("Delivery", sent_by_ses.provider_message_id)
    refused(sent_by_ses, post(client, sns_standin.sign(sns_standin.ses_notification(event, timestamp=old))))


def test_a_validly_signed_notification_dated_eleven_minutes_ahead_is_refused(client, sns_standin, sent_by_ses):
    ahead = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=11)
    event = ses_event("Delivery", sent_by_ses.provider_message_id)
    refused(sent_by_ses, post(client, sns_standin.sign(sns_standin.ses_notification(event, timestamp=ahead))))


def test_a_topic_outside_the_allow_list_is_refused(client, settings, sns_standin, sent_by_ses):
    settings.SES_SNS_TOPIC_ARNS = ["arn:aws:sns:us-east-1:123456789012:other"]
    event = ses_event("Delivery", sent_by_ses.provider_message_id)
    refused(sent_by_ses, post(client, sns_standin.sign(sns_standin.ses_notification(event))))


def subscription(sns_standin: SnsStandIn, subscribe_url: str) -> dict:
    notification = sns_standin.ses_notification({})
    return {**notification, "Type": "SubscriptionConfirmation", "Token": "tok-1", "SubscribeURL": subscribe_url,
            "Message": "You have chosen to subscribe to the topic " + TOPIC_ARN}  # fmt: skip


def test_a_subscription_confirmation_is_confirmed_by_visiting_its_subscribe_url(client, sns_standin):
    confirm = f"{sns_standin.url}/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok-1"
    response = post(client, sns_standin.sign(subscription(sns_standin, confirm)), "SubscriptionConfirmation")

    assert response.status_code == 200
    assert f"/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok-1" in sns_standin.requests


def test_a_subscribe_url_on_a_host_not_allowed_is_never_visited(client, sns_standin):
    confirm = sns_standin.url.replace("127.0.0.1", "localhost") + "/?Action=ConfirmSubscription&Token=tok-1"
    response = post(client, sns_standin.sign(subscription(sns_standin, confirm)), "SubscriptionConfirmation")

    assert response.status_code == 403
    assert not any("ConfirmSubscription" in path for path in sns_standin.requests)


def test_a_certificate_offered_over_plain_http_is_never_fetched(client, sns_standin, sent_by_ses):
    """Same allowed host, same certificate, but http: refused before any connection is made."""
    fetched: list[str] = []

    class PlainCertificate(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fetched.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(sns_standin.certificate_pem)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), PlainCertificate)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        cert_url = f"http://127.0.0.1:{server.server_address[1]}/SimpleNotificationService-test.pem"
        event = ses_event("Delivery", sent_by_ses.provider_message_id)
        refused(sent_by_ses, post(client, sns_standin.sign(sns_standin.ses_notification(event), cert_url=cert_url)))
    finally:
        server.shutdown()
        server.server_close()
    assert fetched == []
