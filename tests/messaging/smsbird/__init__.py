"""SmsBird (SMS), a MessageBird-like HTTP API: sender.py sends through its REST API; webhook.py
takes its signed status reports, receipts.py reads them."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from messaging.registry import ProviderEntry


def expects_receipts() -> bool:
    return bool(settings.SMSBIRD_SIGNING_KEY)


PROVIDER = ProviderEntry(
    name="smsbird",
    sender="tests.messaging.smsbird.sender.SmsBirdProvider",
    label="SMS Bird",
    price={"per_message": Decimal("0.0060"), "daily_quota": 1000},
    expects_receipts=expects_receipts,
    webhooks="tests.messaging.smsbird.webhook",
)
