"""Plain SMTP (email), the last resort of the email chain and the local sink: sender.py. No receipts."""

from __future__ import annotations

from decimal import Decimal

from messaging.registry import ProviderEntry

PROVIDER = ProviderEntry(
    name="smtp",
    sender="messaging.providers.smtp.sender.SMTPProvider",
    label="SMTP",
    price={"per_message": Decimal("0"), "daily_quota": 500, "monthly_quota": 15000},
)
