"""Whose secret checks a receipt: the one of the account its message was sent with.

A receipt names the provider's id of a message (Twilio's MessageSid, SendGrid's sg_message_id).
That message's log names its tenant; a tenant with its own credential at the provider signs (or has
signed) its receipts with that credential's secret (Twilio's auth token, SendGrid's verification
key), every other message's receipts with the platform's setting. So a receipt signed with tenant
A's token is refused for tenant B's message, and one signed with the platform's for a message sent
on a tenant's account. A receipt about a message not known yet (it came before the send was
recorded) can only be checked with the platform's secret.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings

from messaging.models import CommunicationLog
from messaging.providers.base import Credential
from messaging.receipts.base import Receipt
from messaging.tenancy.routing import credential_for


def message_credential(provider: str, provider_message_id: str) -> Credential | None:
    """The tenant credential the message was sent with at `provider`; None: the platform's (or unknown)."""
    if not provider_message_id:
        return None
    log = (
        CommunicationLog.objects.filter(provider_used=provider, provider_message_id=provider_message_id)
        .only("metadata")
        .first()
    )
    return credential_for(log.tenant_id, provider) if log is not None else None


def signing_secret(provider: str, provider_message_id: str, setting: str) -> str:
    """The secret (named like its setting, e.g. TWILIO_AUTH_TOKEN) that must have signed a receipt
    about this message: its tenant credential's ("" if that holds none), else the platform's."""
    credential = message_credential(provider, provider_message_id)
    if credential is None:
        return str(getattr(settings, setting) or "")
    return credential.values.get(setting, "")


def signed_with(provider: str, receipts: Iterable[Receipt], *, setting: str, secret: str) -> list[Receipt]:
    """The receipts of a batch verified under `secret` that it may speak for: those about messages
    whose signing secret is that one (a message not known yet only under the platform's)."""
    kept = []
    for receipt in receipts:
        if signing_secret(provider, receipt.provider_message_id, setting) == secret:
            kept.append(receipt)
    return kept
