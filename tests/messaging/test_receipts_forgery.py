"""Forged SES receipts: genuinely signed SNS messages from a topic someone else owns, and what they
may not do even from a listed topic (open a breaker in a burst, date a delivery outside its message).
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from messaging.breaker import CLOSED, breaker_for
from messaging.models import CommunicationLog, DeliveryReceipt, MessageStatus
from messaging.receipts.breaker_share import receipt_may_count_against_breaker
from messaging.service import UnifiedMessagingService
from tests.standins.receipts import TOPIC_ARN, SnsStandIn, ses_event

pytestmark = pytest.mark.django_db

URL = "/webhooks/ses"
ATTACKERS_TOPIC = "arn:aws:sns:eu-west-1:999999999999:not-yours"


def send_by_ses(recipient: str = "alice@example.org") -> CommunicationLog:
    result = UnifiedMessagingService().send_email(recipient, "Your code", "<p>code</p>", "code")
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (log.status, log.provider_used) == (MessageStatus.SENT, "ses")
    return log


@pytest.fixture
def ses_chain(settings, aws) -> None:
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses"]
    aws.verify_sender(settings.OTP_FROM_EMAIL)


def post(client, body: bytes, kind: str = "Notification"):
    return client.post(URL, body, content_type="text/plain", headers={"x-amz-sns-message-type": kind})


def undetermined_bounce(standin: SnsStandIn, log: CommunicationLog, topic: str = TOPIC_ARN) -> bytes:
    event = ses_event("Bounce", log.provider_message_id, bounceType="Undetermined", bounceSubType="Undetermined")
    return standin.sign({**standin.ses_notification(event), "TopicArn": topic})


def iso_ms(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def delivery_at(standin: SnsStandIn, log: CommunicationLog, moment: dt.datetime) -> bytes:
    return standin.sign(standin.ses_notification(ses_event("Delivery", log.provider_message_id,
                                                           timestamp=iso_ms(moment))))  # fmt: skip


# --- Topics ----------------------------------------------------------------------------------


@pytest.mark.parametrize("listed", [[], ["arn:aws:sns:us-east-1:123456789012:ses-events-other"]])
def test_a_bounce_signed_by_sns_for_a_topic_not_listed_is_refused_before_anything_is_fetched(
    client, settings, sns_standin, ses_chain, listed
):
    settings.SES_SNS_TOPIC_ARNS = listed
    log = send_by_ses()

    response = post(client, undetermined_bounce(sns_standin, log, topic=ATTACKERS_TOPIC))

    log.refresh_from_db()
    assert response.status_code == 403
    assert log.status == MessageStatus.SENT and DeliveryReceipt.objects.count() == 0
    assert sns_standin.requests == []  # not even the certificate
    assert breaker_for("ses").snapshot().failure_count == 0


def test_with_no_topic_listed_even_the_services_own_topic_is_refused(client, settings, sns_standin, ses_chain):
    settings.SES_SNS_TOPIC_ARNS = []
    log = send_by_ses()
    response = post(client, delivery_at(sns_standin, log, timezone.now()))
    log.refresh_from_db()
    assert (response.status_code, log.status) == (403, MessageStatus.SENT)


def subscription(standin: SnsStandIn, topic: str) -> bytes:
    confirm = f"{standin.url}/?Action=ConfirmSubscription&TopicArn={topic}&Token=tok-1"
    message = {**standin.ses_notification({}), "Type": "SubscriptionConfirmation", "TopicArn": topic,
               "Token": "tok-1", "SubscribeURL": confirm, "Message": "You have chosen to subscribe"}  # fmt: skip
    return standin.sign(message)


def test_a_subscription_to_a_topic_not_listed_is_neither_confirmed_nor_fetched(client, sns_standin):
    response = post(client, subscription(sns_standin, ATTACKERS_TOPIC), "SubscriptionConfirmation")

    assert response.status_code == 403
    assert sns_standin.requests == []


def test_a_subscription_to_a_listed_topic_is_confirmed(client, sns_standin):
    response = post(client, subscription(sns_standin, TOPIC_ARN), "SubscriptionConfirmation")

    assert response.status_code == 200
    assert sns_standin.fetched("confirm") == [f"/?Action=ConfirmSubscription&TopicArn={TOPIC_ARN}&Token=tok-1"]


def test_with_ses_receipts_off_the_endpoint_is_404_and_fetches_nothing(client, settings, sns_standin, ses_chain):
    settings.SES_RECEIPTS_ENABLED = False
    log = send_by_ses()
    for body, kind in ((undetermined_bounce(sns_standin, log), "Notification"),
                       (subscription(sns_standin, TOPIC_ARN), "SubscriptionConfirmation")):  # fmt: skip
        assert post(client, body, kind).status_code == 404
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT and sns_standin.requests == []


# --- Breaker ---------------------------------------------------------------------------------


def test_five_provider_blamed_bounces_at_once_count_once_and_leave_the_ses_breaker_closed(
    client, sns_standin, ses_chain, django_capture_on_commit_callbacks
):
    logs = [send_by_ses(f"user{i}@example.org") for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        for log in logs:
            assert post(client, undetermined_bounce(sns_standin, log)).status_code == 200

    assert set(CommunicationLog.objects.values_list("status", flat=True)) == {MessageStatus.FAILED}
    snapshot = breaker_for("ses").snapshot()
    assert (snapshot.state, snapshot.failure_count) == (CLOSED, 1)


def test_receipt_failures_count_once_per_window_per_provider(settings):
    settings.MESSAGING_RECEIPT_BREAKER_FAILURES_PER_WINDOW = 1
    settings.MESSAGING_RECEIPT_BREAKER_WINDOW_SECONDS = 60
    start = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)

    assert receipt_may_count_against_breaker("ses", now=start) is True
    assert receipt_may_count_against_breaker("ses", now=start + dt.timedelta(seconds=59)) is False
    assert receipt_may_count_against_breaker("twilio", now=start) is True  # each provider its own
    assert receipt_may_count_against_breaker("ses", now=start + dt.timedelta(seconds=60)) is True


def test_receipts_alone_reach_five_failures_no_sooner_than_three_full_windows(settings):
    """Five failures in a row open it; receipts get one per window, so the fifth needs five windows."""
    settings.MESSAGING_RECEIPT_BREAKER_WINDOW_SECONDS = 60
    start = dt.datetime(2026, 3, 1, 12, 0, 59, tzinfo=dt.UTC)  # the last second of a window
    moments = [start + dt.timedelta(seconds=second) for second in range(300)]
    counted = [second for second, moment in enumerate(moments) if receipt_may_count_against_breaker("ses", now=moment)]
    assert counted[:5] == [0, 1, 61, 121, 181]  # window edges at +1 s, +61 s, ...: the fifth at +181 s
    assert counted[4] >= 3 * 60


# --- Dates -----------------------------------------------------------------------------------


def test_a_forged_delivery_dated_before_the_message_existed_leaves_a_failed_message_failed(
    client, sns_standin, ses_chain
):
    log = send_by_ses()
    CommunicationLog.objects.filter(pk=log.pk).update(status=MessageStatus.FAILED)

    response = post(client, delivery_at(sns_standin, log, log.created_at - dt.timedelta(hours=3)))

    log.refresh_from_db()
    assert response.status_code == 200  # signed and read; its content is refused, not retried
    assert (log.status, log.delivered_at) == (MessageStatus.FAILED, None)
    assert DeliveryReceipt.objects.count() == 0


def test_a_delivery_dated_in_the_future_beyond_the_clock_skew_is_refused(client, settings, sns_standin, ses_chain):
    settings.MESSAGING_RECEIPT_CLOCK_SKEW_SECONDS = 60
    log = send_by_ses()

    post(client, delivery_at(sns_standin, log, timezone.now() + dt.timedelta(minutes=5)))

    log.refresh_from_db()
    assert (log.status, log.delivered_at) == (MessageStatus.SENT, None)


def test_a_delivery_a_little_ahead_of_our_clock_or_the_send_is_accepted(client, settings, sns_standin, ses_chain):
    settings.MESSAGING_RECEIPT_CLOCK_SKEW_SECONDS = 60
    early, ahead = send_by_ses("early@example.org"), send_by_ses("ahead@example.org")
    early_at = early.created_at.replace(microsecond=0) - dt.timedelta(seconds=30)
    ahead_at = timezone.now().replace(microsecond=0) + dt.timedelta(seconds=30)

    post(client, delivery_at(sns_standin, early, early_at))
    post(client, delivery_at(sns_standin, ahead, ahead_at))

    early.refresh_from_db()
    ahead.refresh_from_db()
    assert (early.status, early.delivered_at) == (MessageStatus.DELIVERED, early_at)
    assert (ahead.status, ahead.delivered_at) == (MessageStatus.DELIVERED, ahead_at)
