"""Sends that a provider set up to report delivery has said nothing about in time.

One rule for codes (otp.resend) and tenant messages (notifications.receipt_timeout): only
providers set up here to report delivery are waited for (messaging.receipts.expects_receipts), of
the platform's chain or any tenant's own (a tenant's message walks its tenant's chain),
MESSAGING_RECEIPT_TIMEOUT_SMS / _EMAIL seconds after the send (0 turns a channel's off); sends
older than that by more than the caller's look-back are no longer looked at. Each caller adds what
makes such a send owed a resend.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from messaging import registry
from messaging.models import Channel, MessageStatus
from messaging.receipts import expects_receipts
from messaging.tenancy.models import TenantChain


def without_receipt(*, now: datetime, look_back: timedelta) -> Q | None:
    """The log rows still `sent` with no receipt past their channel's timeout; None if no channel waits."""
    waiting = Q()
    for channel, timeout in ((Channel.SMS, settings.MESSAGING_RECEIPT_TIMEOUT_SMS),
                             (Channel.EMAIL, settings.MESSAGING_RECEIPT_TIMEOUT_EMAIL)):  # fmt: skip
        names = [name for name in chained_names(channel) if expects_receipts(name)]
        if timeout > 0 and names:
            cutoff = now - timedelta(seconds=timeout)
            waiting |= Q(channel=channel, provider_used__in=names, sent_at__lt=cutoff, sent_at__gte=cutoff - look_back)
    if not waiting:
        return None
    return waiting & Q(status=MessageStatus.SENT, receipts__isnull=True)


def chained_names(channel: Channel) -> list[str]:
    """Every provider a message of `channel` may be sent by: the platform's chain's and each tenant's own."""
    names = registry.chain_names(channel)
    for chain in TenantChain.objects.filter(channel=channel).values_list("providers", flat=True).distinct():
        names += [name for name in TenantChain(providers=chain).names() if name not in names]
    return names
