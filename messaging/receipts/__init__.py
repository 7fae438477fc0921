"""Delivery receipts: what providers tell us after they accepted a message.

One module per provider translates its signed callback (or delivery log) into Receipt values
in our vocabulary; base.apply_receipt moves the log row forward and decides on failover.
"""

from __future__ import annotations

from django.conf import settings


def expects_receipts(provider: str) -> bool:
    """Whether `provider` is set up here to report delivery, so silence from it means something."""
    if provider == "twilio":
        return bool(settings.MESSAGING_WEBHOOK_BASE_URL)
    if provider == "sendgrid":
        return bool(settings.SENDGRID_WEBHOOK_PUBLIC_KEY)
    if provider == "ses":
        return bool(settings.SES_RECEIPTS_ENABLED)
    if provider == "sns":
        return bool(settings.SNS_SMS_DELIVERY_LOG_GROUPS)
    return False
