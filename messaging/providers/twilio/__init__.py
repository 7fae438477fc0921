"""Twilio (SMS): sender.py sends through the Messages API; webhook.py takes the signed status
callbacks, receipts.py reads them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from messaging.registry import ProviderEntry


def expects_receipts() -> bool:
    return bool(settings.MESSAGING_WEBHOOK_BASE_URL)


PROVIDER = ProviderEntry(
    name="twilio",
    sender="messaging.providers.twilio.sender.TwilioProvider",
    label="Twilio",
    price={"per_message": Decimal("0.0075")},
    expects_receipts=expects_receipts,
    webhooks="messaging.providers.twilio.webhook",
    credential_fields=("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID"),
    secret_fields=("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),
)
