"""SendGrid (email): sender.py sends through the v3 Mail Send API (on http.py's pooled client);
webhook.py takes the signed Event Webhook, receipts.py reads it."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from messaging.registry import ProviderEntry


def expects_receipts() -> bool:
    return bool(settings.SENDGRID_WEBHOOK_PUBLIC_KEY)


PROVIDER = ProviderEntry(
    name="sendgrid",
    sender="messaging.providers.sendgrid.sender.SendGridProvider",
    label="SendGrid",
    price={"per_message": Decimal("0.000067"), "free_per_month": 3000},
    expects_receipts=expects_receipts,
    webhooks="messaging.providers.sendgrid.webhook",
    credential_fields=("SENDGRID_API_KEY", "SENDGRID_WEBHOOK_PUBLIC_KEY", "OTP_FROM_EMAIL", "OTP_FROM_NAME"),
    secret_fields=("SENDGRID_API_KEY",),
)
