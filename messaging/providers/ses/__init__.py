"""Amazon SES (email): sender.py sends through SES v2; receipts arrive as SNS HTTPS notifications
(webhook.py, checked by sns_http.py and sns_fetch.py, read by receipts.py)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from messaging.registry import ProviderEntry


def expects_receipts() -> bool:
    return bool(settings.SES_RECEIPTS_ENABLED)


PROVIDER = ProviderEntry(
    name="ses",
    sender="messaging.providers.ses.sender.SESProvider",
    label="AWS SES",
    price={"per_message": Decimal("0.0001"), "free_per_month": 62000},
    expects_receipts=expects_receipts,
    webhooks="messaging.providers.ses.webhook",
    credential_fields=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "OTP_FROM_EMAIL", "OTP_FROM_NAME"),
    secret_fields=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
)
