"""Development SMS (sender.py): prints each message, so a chain naming it needs DEBUG. No receipts."""

from __future__ import annotations

from decimal import Decimal

from messaging.registry import ProviderEntry

PROVIDER = ProviderEntry(
    name="console",
    sender="messaging.providers.console.sender.ConsoleSMSProvider",
    label="Console",
    price={"per_message": Decimal("0")},
    development_only=True,
)
