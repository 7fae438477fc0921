"""The Twilio 30008 case end to end: real worker, real HTTP callback signed with the auth token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from messaging.models import AttemptOutcome, Blame, CommunicationLog, MessageStatus
from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.receipts import post_twilio_callback

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

PHONE = "+14155550123"


def verify(client, code: str) -> int:
    body = {"phone": PHONE, "purpose": "login", "code": code}
    return int(client.post(VERIFY_URL, body, content_type="application/json").status_code)


@pytest.fixture
def worker_with_twilio_then_sns(settings, live_server, twilio_standin, aws, moto_url, start_worker):
    """A real worker whose SMS chain is Twilio (receipts to the live server), then SNS on moto."""
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    settings.MESSAGING_WEBHOOK_BASE_URL = live_server.url
    return start_worker(
        TEST_WORKER_STANDIN_CREDENTIALS="1",
        CELERY_WORKER_LOG_TASKS="1",  # Celery's "Task ... succeeded in ...: <result>" line, read below
        MESSAGING_SMS_PROVIDERS="twilio,sns",
        MESSAGING_WEBHOOK_BASE_URL=live_server.url,
        MESSAGING_RECEIPT_TIMEOUT_SMS="120",
        TWILIO_ACCOUNT_SID=TWILIO_SID,
        TWILIO_AUTH_TOKEN=settings.TWILIO_AUTH_TOKEN,
        TWILIO_FROM_NUMBER=TWILIO_FROM,
        TWILIO_API_BASE_URL=twilio_standin.url,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_REGION=settings.AWS_REGION,
        AWS_ENDPOINT_URL=moto_url,
    )


def send_through_twilio(client) -> CommunicationLog:
    response = client.post(SEND_URL, {"phone": PHONE, "purpose": "login"}, content_type="application/json")
    assert response.status_code == 202
    return wait_for(
        lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT, provider_used="twilio").first(),
        what="Twilio to accept the first code",
    )


def test_undelivered_30008_from_twilio_resends_a_new_code_through_the_next_provider_and_both_verify_once(
    client, settings, live_server, twilio_standin, aws, worker_with_twilio_then_sns
):
    first_log = send_through_twilio(client)
    [sent] = twilio_standin.messages
    first_code = code_in(sent["Body"])
    assert sent["StatusCallback"] == f"{live_server.url}/webhooks/twilio"

    # Twilio accepted it, then the carrier dropped it: the callback comes over HTTP, signed.
    status = post_twilio_callback(
        sent["StatusCallback"],
        {
            "MessageSid": first_log.provider_message_id,
            "MessageStatus": "undelivered",
            "ErrorCode": "30008",
            "AccountSid": TWILIO_SID,
            "To": PHONE,
            "From": TWILIO_FROM,
        },
        auth_token=settings.TWILIO_AUTH_TOKEN,
    )
    assert status == 200

    [resent] = wait_for(aws.sent_sms, what="SNS to carry the resend")
    second_code = code_in(resent["message"])
    assert resent["phone_number"] == PHONE
    first_log.refresh_from_db()
    assert first_log.status == MessageStatus.FAILED
    assert first_log.receipts.get().blame == Blame.PROVIDER
    resend_log = wait_for(
        lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT, provider_used="sns").first(),
        what="the resend to be recorded",
    )
    [attempt] = resend_log.attempts.all()
    assert (attempt.provider, attempt.outcome) == ("sns", AttemptOutcome.SENT)
    assert attempt.reason.startswith("resent: twilio reported failed 30008")
    assert OneTimeCode.objects.get().resent_at is not None
    assert len(twilio_standin.messages) == 1

    # Either code verifies, once: the resent one here, and then neither.
    assert verify(client, second_code) == 200
    assert verify(client, first_code) == 400
    assert verify(client, second_code) == 400


def test_the_beat_task_resends_a_code_without_receipt_once_and_a_second_sweep_sends_nothing(
    client, twilio_standin, aws, worker_with_twilio_then_sns
):
    from otp.tasks import resend_codes_without_receipt

    first_log = send_through_twilio(client)
    # Two minutes pass without a receipt (the clock is set, not waited for).
    CommunicationLog.objects.filter(pk=first_log.pk).update(sent_at=first_log.sent_at - timedelta(seconds=121))

    resend_codes_without_receipt.delay()
    resend_log = wait_for(
        lambda: CommunicationLog.objects.filter(status=MessageStatus.SENT, provider_used="sns").first(),
        what="the resend through SNS",
    )
    second_sweep = resend_codes_without_receipt.delay()
    wait_for(
        lambda: f"resend_codes_without_receipt[{second_sweep.id}] succeeded" in worker_with_twilio_then_sns.output(),
        what="the second sweep to finish",
    )

    # The second sweep found nothing to resend: the code's one resend is taken.
    done = rf"resend_codes_without_receipt\[{second_sweep.id}\] succeeded in [\d.e-]+s: (\d+)"
    assert re.search(done, worker_with_twilio_then_sns.output()).group(1) == "0"
    assert len(aws.sent_sms()) == 1 and len(twilio_standin.messages) == 1
    assert resend_log.attempts.get().reason == "resent: no receipt in time"
    first_log.refresh_from_db()
    assert first_log.status == MessageStatus.SENT  # silence is not a failure: a late receipt may still come
