"""Plain SMTP (email), the last resort of the email chain and the local sink: sender.py. No receipts."""

from __future__ import annotations

from decimal import Decimal

from messaging.registry import ProviderEntry

PROVIDER = ProviderEntry(
    name="smtp",
    sender="messaging.providers.smtp.sender.SMTPProvider",
    label="SMTP",
    price={"per_message": Decimal("0"), "daily_quota": 500, "monthly_quota": 15000},
    credential_fields=(
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USE_TLS",
        "SMTP_USER",
        "SMTP_PASSWORD",
        "OTP_FROM_EMAIL",
        "OTP_FROM_NAME",
    ),
    secret_fields=("SMTP_PASSWORD",),
)
