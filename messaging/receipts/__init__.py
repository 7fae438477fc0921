"""Delivery receipts: what providers tell us after they accepted a message.

Each provider's folder (messaging/providers/<name>/) translates its signed callback (or delivery
log) into Receipt values in our vocabulary; base.apply_receipt moves the log row forward and
decides on failover.
"""

from __future__ import annotations

from messaging import registry


def expects_receipts(provider: str) -> bool:
    """Whether `provider` is set up here to report delivery, so silence from it means something."""
    return registry.expects_receipts(provider)
