"""SMTP: the last resort of the email chain, driven through smtplib against an aiosmtpd sink."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from messaging import registry
from messaging.models import AttemptOutcome, CommunicationLog, MessageStatus
from messaging.providers.base import Attachment
from messaging.service import UnifiedMessagingService

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_only(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    return smtp_sink


def test_smtp_carries_cc_bcc_reply_to_attachments_and_tags(smtp_only):
    result = UnifiedMessagingService().send_email(
        "alice@example.org",
        "Your receipt",
        "<p>Thanks</p>",
        "Thanks",
        {"user_id": "u-1", "tenant_id": "acme"},
        cc=["carol@example.org"],
        bcc=["audit@example.org"],
        reply_to=["help@example.org"],
        attachments=[Attachment("receipt.txt", b"total: 3", "text/plain")],
        tags={"purpose": "receipt"},
    )

    [message] = smtp_only.wait_for(1)
    [(_, envelope_recipients)] = smtp_only.envelopes
    assert result["success"] and result["provider"] == "smtp" and result["status"] == MessageStatus.SENT
    assert sorted(envelope_recipients) == ["alice@example.org", "audit@example.org", "carol@example.org"]
    assert message["Cc"] == "carol@example.org" and message["Bcc"] is None
    assert message["Reply-To"] == "help@example.org"
    assert message["X-Tag-purpose"] == "receipt"
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content()) == ("receipt.txt", "total: 3")
    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert log.provider_message_id and log.metadata == {"user_id": "u-1", "tenant_id": "acme"}


def test_a_recipient_refused_with_550_is_a_recipient_fault_that_stops_the_chain(smtp_only, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    smtp_only.reject_with = "550 5.1.1 No such user"

    result = UnifiedMessagingService().send_email("ghost@example.org", "Hi", "", "Hi")

    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (result["success"], log.status) == (False, MessageStatus.FAILED)
    assert list(log.attempts.values_list("provider", "outcome", "error_code")) == [
        ("smtp", AttemptOutcome.RECIPIENT_FAULT, "550")
    ]


def test_an_unknown_provider_name_fails_at_start_up_naming_the_variable(settings):
    settings.MESSAGING_SMS_PROVIDERS = ["sns", "carrier-pigeon"]

    with pytest.raises(ImproperlyConfigured, match=r"MESSAGING_SMS_PROVIDERS.*carrier-pigeon"):
        registry.validate_chains()


def test_a_provider_named_in_the_wrong_channel_fails_at_start_up(settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["twilio"]

    with pytest.raises(ImproperlyConfigured, match="MESSAGING_EMAIL_PROVIDERS"):
        registry.validate_chains()
