"""Receipt-driven failover: one resend through the next provider, with a second code that joins the first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.signals import before_task_publish
from django.utils import timezone

from messaging.breaker import breaker_for
from messaging.models import AttemptOutcome, Blame, CommunicationLog, MessageStatus, ReceiptEvent
from messaging.receipts.base import Receipt, apply_receipt
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code, verify_code
from otp.models import OneTimeCode
from otp.resend import resend_codes_without_receipt, resend_through_next_provider
from tests.helpers import code_in

pytestmark = pytest.mark.django_db

PHONE = "+14155550123"
REQUEST = CodeRequest(tenant_id="acme", recipient=PHONE, channel="sms", purpose="login")


@pytest.fixture
def sms_chain(settings, twilio_standin, aws):
    """Twilio first (it reports delivery to our public URL), then SNS on moto."""
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    settings.MESSAGING_WEBHOOK_BASE_URL = "https://otp.example.com"
    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 120
    return twilio_standin, aws


@pytest.fixture
def sent_code(sms_chain) -> tuple[OneTimeCode, str]:
    """A code Twilio accepted; returns the row and the code the handset would have shown."""
    otp = issue_code(REQUEST, now=timezone.now(), enqueue=lambda otp_id: None)
    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=90)
    assert step.reason == MessageStatus.SENT
    otp.refresh_from_db()
    return otp, code_in(sms_chain[0].messages[0]["Body"])


def resend_now(log_id: int, reason: str, *, at) -> None:
    resend_through_next_provider(log_id, reason=reason, now=at)


def sweep(at) -> int:
    return resend_codes_without_receipt(now=at, enqueue=lambda log_id, reason: resend_now(log_id, reason, at=at))


def verify(code: str) -> bool:
    return verify_code(REQUEST, code, now=timezone.now())


def test_no_receipt_within_the_timeout_resends_once_through_the_next_provider_never_twice(sms_chain, sent_code):
    twilio, aws = sms_chain
    otp, _ = sent_code
    sent_at = otp.log.sent_at

    assert sweep(sent_at + timedelta(seconds=119)) == 0
    assert sweep(sent_at + timedelta(seconds=121)) == 1
    assert sweep(sent_at + timedelta(seconds=180)) == 0
    # A failure receipt arriving after the timeout resend asks again: still nothing more is sent.
    resend_now(otp.log_id, "twilio reported failed 30008", at=sent_at + timedelta(seconds=200))

    [sms] = aws.sent_sms()
    assert sms["phone_number"] == PHONE and len(twilio.messages) == 1
    second_code = code_in(sms["message"])
    resend_log = CommunicationLog.objects.exclude(pk=otp.log_id).get()
    assert resend_log.metadata["resend_of"] == str(otp.log.message_id)
    assert list(resend_log.attempts.values_list("provider", "outcome", "reason")) == [
        ("sns", AttemptOutcome.SENT, "resent: no receipt in time")
    ]
    otp.refresh_from_db()
    assert otp.resend_reason == "no receipt in time" and otp.resend_code_hash != otp.code_hash
    assert verify(second_code) is True


@pytest.mark.parametrize("used", ["first", "second"])
def test_after_a_resend_either_code_verifies_once_and_then_neither_does(sms_chain, sent_code, used):
    otp, first_code = sent_code
    resend_now(otp.log_id, "twilio reported failed 30008", at=timezone.now())
    second_code = code_in(sms_chain[1].sent_sms()[0]["message"])
    code, other = (first_code, second_code) if used == "first" else (second_code, first_code)

    assert verify(code) is True
    assert verify(code) is False
    assert verify(other) is False


def test_both_codes_share_one_attempt_counter(settings, sms_chain, sent_code):
    otp, first_code = sent_code
    resend_now(otp.log_id, "no receipt in time", at=timezone.now())
    second_code = code_in(sms_chain[1].sent_sms()[0]["message"])
    wrong = next(c for c in ("000000", "111111", "222222") if c not in (first_code, second_code))

    for _ in range(settings.OTP_MAX_ATTEMPTS):
        assert verify(wrong) is False

    assert verify(first_code) is False and verify(second_code) is False


def test_a_code_already_used_or_expired_is_not_resent(sms_chain, sent_code):
    otp, first_code = sent_code
    sent_at = otp.log.sent_at
    assert sweep(otp.expires_at + timedelta(seconds=1)) == 0
    assert verify(first_code) is True
    assert sweep(sent_at + timedelta(seconds=121)) == 0
    assert resend_through_next_provider(otp.log_id, reason="late receipt", now=timezone.now()) == (
        "already resent, used, expired or out of guesses"
    )
    assert sms_chain[1].sent_sms() == []


def test_a_receipt_of_any_kind_stops_the_timeout(sms_chain, sent_code, client):
    from messaging.receipts.base import Receipt, apply_receipt

    otp, _ = sent_code
    log = otp.log
    apply_receipt(Receipt(provider="twilio", provider_message_id=log.provider_message_id, event_key="k1",
                          event="deferred"))  # fmt: skip

    assert sweep(log.sent_at + timedelta(seconds=121)) == 0


def test_a_timeout_of_zero_turns_it_off_and_a_provider_without_receipts_is_never_waited_for(
    settings, sms_chain, sent_code
):
    otp, _ = sent_code
    later = otp.log.sent_at + timedelta(seconds=121)
    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 0
    assert sweep(later) == 0
    settings.MESSAGING_RECEIPT_TIMEOUT_SMS = 120
    settings.MESSAGING_WEBHOOK_BASE_URL = ""  # Twilio is no longer told where to report
    assert sweep(later) == 0


def test_the_last_provider_of_the_chain_has_no_next_one(settings, sms_chain, sent_code):
    otp, _ = sent_code
    settings.MESSAGING_SMS_PROVIDERS = ["sns", "twilio"]

    assert resend_through_next_provider(otp.log_id, reason="x", now=timezone.now()) == "no next provider"
    otp.refresh_from_db()
    assert otp.resent_at is None


def test_health_shows_each_providers_delivered_share_and_backlog(client, settings, sms_chain, sent_code):
    from messaging.receipts.base import Receipt, apply_receipt

    otp, _ = sent_code
    second = issue_code(
        CodeRequest(tenant_id="acme", recipient="+14155550124", channel="sms", purpose="login"),
        now=timezone.now(),
        enqueue=lambda otp_id: None,
    )
    deliver_one_time_code(str(second.pk), retries=0, lease_seconds=90)
    apply_receipt(Receipt(provider="twilio", provider_message_id=otp.log.provider_message_id, event_key="d1",
                          event="delivered"))  # fmt: skip

    settings.METRICS_TOKEN = "health-staff-token"
    body = client.get("/health/messaging", headers={"Authorization": "Bearer health-staff-token"}).json()
    by_name = {entry["name"]: entry for entry in body["sms_providers"] + body["email_providers"]}
    assert by_name["TwilioProvider"]["receipts"] == {
        "expected": True,
        "delivered_share_last_hour": 0.5,
        "awaiting_receipt": 1,
    }
    assert by_name["AWSSNSProvider"]["receipts"] is None  # no delivery-status logs configured


def failure_receipt(otp: OneTimeCode, event_key: str) -> Receipt:
    return Receipt(provider="twilio", provider_message_id=otp.log.provider_message_id, event_key=event_key,
                   event=ReceiptEvent.FAILED, blame=Blame.PROVIDER, code="30008")  # fmt: skip


def test_a_failure_receipt_whose_resend_request_was_lost_is_resent_by_the_sweep(sms_chain, sent_code):
    otp, _ = sent_code
    # This test's transaction never commits, so the receipt's own request for a resend (sent after
    # commit) never goes out: the same as a broker down or a web process killed right after commit.
    assert apply_receipt(failure_receipt(otp, "failed-1")) == "recorded"
    received_at = otp.log.receipts.get().received_at

    assert sweep(received_at + timedelta(seconds=29)) == 0
    assert sweep(received_at + timedelta(seconds=31)) == 1
    assert len(sms_chain[1].sent_sms()) == 1
    assert sweep(received_at + timedelta(seconds=60)) == 0


@pytest.mark.parametrize("event", [ReceiptEvent.FAILED, ReceiptEvent.BOUNCED])
def test_a_failure_receipt_that_blames_the_recipient_is_never_resent(
    sms_chain, sent_code, django_capture_on_commit_callbacks, event
):
    otp, _ = sent_code
    dead_number = Receipt(provider="twilio", provider_message_id=otp.log.provider_message_id, event_key="failed-1",
                          event=event, blame=Blame.RECIPIENT, code="30005")  # fmt: skip
    published: list[str] = []

    def capture(sender=None, **_):
        published.append(sender)

    before_task_publish.connect(capture, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert apply_receipt(dead_number) == "recorded"
    finally:
        before_task_publish.disconnect(capture)
    received_at = otp.log.receipts.get().received_at

    assert "workers.tasks.resend_otp" not in published  # the receipt asks for no resend
    assert sweep(received_at + timedelta(seconds=31)) == 0  # ... nor does the sweep
    assert sweep(received_at + timedelta(seconds=200)) == 0
    assert sms_chain[1].sent_sms() == []
    assert CommunicationLog.objects.count() == 1


def test_a_failure_receipt_after_delivered_counts_nothing_and_resends_nothing(
    sms_chain, sent_code, django_capture_on_commit_callbacks
):
    otp, _ = sent_code
    delivered = Receipt(provider="twilio", provider_message_id=otp.log.provider_message_id, event_key="delivered-1",
                        event=ReceiptEvent.DELIVERED)  # fmt: skip
    apply_receipt(delivered)
    with django_capture_on_commit_callbacks(execute=True):
        assert apply_receipt(failure_receipt(otp, "failed-1")) == "recorded"

    assert breaker_for("twilio").snapshot().failure_count == 0
    assert sweep(timezone.now() + timedelta(seconds=60)) == 0
    assert CommunicationLog.objects.get(pk=otp.log_id).status == MessageStatus.DELIVERED
