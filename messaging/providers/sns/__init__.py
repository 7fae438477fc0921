"""Amazon SNS (SMS): sender.py publishes to a phone number; receipts.py reads SMS delivery status
from CloudWatch Logs on beat (SNS has no callback for SMS)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from messaging.registry import ProviderEntry


def expects_receipts() -> bool:
    return bool(settings.SNS_SMS_DELIVERY_LOG_GROUPS)


PROVIDER = ProviderEntry(
    name="sns",
    sender="messaging.providers.sns.sender.SNSProvider",
    label="AWS SNS",
    price={"per_message": Decimal("0.00645"), "free_per_month": 1000},
    expects_receipts=expects_receipts,
    credential_fields=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "SNS_SENDER_ID"),
    secret_fields=("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"),
)
