"""A signed receipt that arrives before its message id is stored waits (bounded, expiring) and is
applied once the worker records the send.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from messaging.models import Channel, CommunicationLog, MessageStatus
from messaging.receipts.base import Receipt
from messaging.receipts.pending import anything_parked, apply_or_park, apply_pending, park, pending_count
from messaging.records import record_sent
from tests.standins.fixtures import TWILIO_SID
from tests.standins.receipts import twilio_callback

pytestmark = pytest.mark.django_db

PUBLIC_BASE = "https://otp.example.com"
URL = "/webhooks/twilio"
TOKEN = "test-auth-token"


@pytest.fixture
def twilio_receipts(settings) -> None:
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.MESSAGING_WEBHOOK_BASE_URL = PUBLIC_BASE


def claimed_sms() -> CommunicationLog:
    """A message a worker has claimed and is sending: no provider message id yet."""
    return CommunicationLog.objects.create(recipient="+14155550123", channel=Channel.SMS,
                                           status=MessageStatus.SENDING, claimed_at=timezone.now())  # fmt: skip


def callback(client, sid: str, status: str = "delivered", *, token: str = TOKEN):
    form = {"AccountSid": TWILIO_SID, "MessageSid": sid, "MessageStatus": status}
    return client.post(URL, form, headers=twilio_callback(PUBLIC_BASE + URL, form, auth_token=token))


def test_a_delivery_receipt_that_comes_before_the_sent_record_ends_delivered(client, twilio_receipts):
    log = claimed_sms()

    assert callback(client, "SMfast").status_code == 200
    assert pending_count("twilio", now=timezone.now()) == 1
    assert apply_pending() == 0  # the worker has not written the id yet: it keeps waiting

    record_sent(log, "twilio", time.monotonic(), provider_message_id="SMfast", cost=Decimal("0.0079"))
    assert apply_pending() == 1

    log.refresh_from_db()
    assert (log.status, log.delivered_at is not None) == (MessageStatus.DELIVERED, True)
    assert list(log.receipts.values_list("event_key", flat=True)) == ["twilio:SMfast:delivered:"]
    assert pending_count("twilio", now=timezone.now()) == 0
    assert apply_pending() == 0  # applied once


def test_a_badly_signed_receipt_for_an_unknown_id_is_refused_and_never_kept(client, twilio_receipts):
    assert callback(client, "SMforged", token="someone-elses-token").status_code == 403
    assert pending_count("twilio", now=timezone.now()) == 0


def receipt(n: int, provider: str = "twilio") -> Receipt:
    return Receipt(provider=provider, provider_message_id=f"SM{n}", event_key=f"{provider}:SM{n}:delivered",
                   event="delivered")  # fmt: skip


def test_unknown_ids_fill_at_most_the_cap_per_provider(settings):
    settings.MESSAGING_PENDING_RECEIPTS_MAX = 3
    now = timezone.now()

    results = [apply_or_park(receipt(n), now=now) for n in range(5)]

    assert results == ["parked"] * 3 + ["unknown"] * 2
    assert pending_count("twilio", now=now) == 3
    assert apply_or_park(receipt(1, provider="sendgrid"), now=now) == "parked"  # another provider's room
    assert apply_or_park(receipt(0), now=now) == "parked"  # the same receipt again takes no more room
    assert pending_count("twilio", now=now) == 3


def test_a_kept_receipt_expires_and_frees_its_place(settings):
    settings.MESSAGING_PENDING_RECEIPTS_MAX = 1
    settings.MESSAGING_PENDING_RECEIPT_TTL_SECONDS = 600
    start = timezone.now()
    assert park(receipt(1), now=start) is True
    assert park(receipt(2), now=start + timedelta(seconds=599)) is False

    assert park(receipt(2), now=start + timedelta(seconds=601)) is True
    assert pending_count("twilio", now=start + timedelta(seconds=601)) == 1


def test_a_receipt_whose_id_appears_only_after_it_expired_is_dropped(settings):
    settings.MESSAGING_PENDING_RECEIPT_TTL_SECONDS = 600
    start = timezone.now()
    log = claimed_sms()
    assert park(receipt(7), now=start) is True
    record_sent(log, "twilio", time.monotonic(), provider_message_id="SM7", cost=Decimal("0.0079"))

    assert apply_pending(now=start + timedelta(seconds=601)) == 0
    log.refresh_from_db()
    assert log.status == MessageStatus.SENT and log.receipts.count() == 0


def test_beat_sends_the_pending_sweep_only_while_a_receipt_waits():
    now = timezone.now()
    assert anything_parked(now=now) is False
    assert park(receipt(1), now=now) is True
    assert anything_parked(now=now) is True
