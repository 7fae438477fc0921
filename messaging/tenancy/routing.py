"""Which provider a message goes through, with whose account, behind whose breaker and quota.

One rule: a message walks its tenant's chain for its channel (TenantChain), or the platform's
(MESSAGING_*_PROVIDERS) when the tenant sets none; each provider is called with the tenant's own
credential for it (ProviderCredential) when it has one, else with the platform's settings. A
tenant's credential has its own breaker (breaker.tenant_breaker_name) and its own free tier and
quotas, counted from that tenant's messages at that provider; the platform's keep theirs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from cryptography.fernet import InvalidToken

from messaging import pricing, registry
from messaging.breaker import tenant_breaker_name
from messaging.models import Channel, CommunicationLog
from messaging.providers.base import Credential, Provider
from messaging.tenancy.cache import TENANTS
from messaging.tenancy.models import ProviderCredential, TenantChain, fields_of
from otpsite.logs import log_event
from otpsite.secretbox import SecretBoxUnavailable

logger = logging.getLogger("messaging.tenancy")


@dataclass(frozen=True)
class Route:
    """One provider of a walk, with the credential it is called with (None: the platform's settings)."""

    provider_class: type[Provider]
    credential: Credential | None = None

    @property
    def name(self) -> str:
        return self.provider_class.name

    @property
    def breaker_name(self) -> str:
        if self.credential is None:
            return self.name
        return tenant_breaker_name(self.name, tenant=self.credential.tenant, credential_id=self.credential.id)

    def provider(self) -> Provider:
        return self.provider_class(self.credential)

    def quota_spent(self, *, now: datetime) -> bool:
        """Whether this account's daily or monthly quota at the provider leaves no room for one more."""
        return pricing.quota_spent(self.name, now=now, tenant=self.quota_tenant)

    def price_next(self, *, now: datetime) -> Decimal:
        """One more message's price on this account: free while its own free tier lasts this month."""
        return pricing.price_next(self.name, now=now, tenant=self.quota_tenant)

    @property
    def quota_tenant(self) -> str:
        """Whose use this account's free tier and quotas count (messaging.usage): "" for the platform's."""
        return self.credential.tenant if self.credential is not None else ""

    def secrets(self) -> list[str]:
        """The credential's secrets, to hide from any error text the provider returns."""
        return self.credential.secrets() if self.credential is not None else []


def routes(log: CommunicationLog, providers: Sequence[type[Provider]] | None = None) -> list[Route]:
    """The walk for `log`: `providers` (a resend's rest of the chain, a test sink) or its tenant's
    chain, or the platform's; each with the tenant's credential for it where it has one."""
    tenant = log.tenant_id  # "" when none is named: the platform's own
    credentials = credentials_of(tenant) if tenant else {}
    chain = list(providers) if providers is not None else chain_of(tenant, Channel(log.channel))
    return [Route(provider_class, credentials.get(provider_class.name)) for provider_class in chain]


def chain_names_of(tenant: str, channel: Channel) -> list[str]:
    """The tenant's chain for `channel` as it names it, or the platform's when it sets none."""
    own = own_chains(tenant).get(str(channel)) if tenant else None
    if own is None:
        return registry.chain_names(channel)
    # A provider unregistered since the tenant chose it is left out rather than failing every send.
    return [name for name in own if registry.entry(name) is not None]


def own_chains(tenant: str) -> dict[str, tuple[str, ...]]:
    """The tenant's own chains by channel (none set: empty); kept per process (messaging/tenancy/cache.py)."""
    found: dict[str, tuple[str, ...]] = TENANTS.cached(
        ("chains", tenant),
        lambda: {str(row.channel): tuple(row.names()) for row in TenantChain.objects.filter(tenant=tenant)},
    )
    return found


def chain_of(tenant: str, channel: Channel) -> list[type[Provider]]:
    return [registry.provider_class(name) for name in chain_names_of(tenant, channel)]


def credentials_of(tenant: str) -> dict[str, Credential]:
    """The tenant's own credentials by provider, opened. One that cannot be opened (its key is gone)
    is kept empty, so its provider is skipped as not configured rather than sent with another's.
    Kept per process until a credential changes (messaging/tenancy/cache.py); callers only read it."""
    found: dict[str, Credential] = TENANTS.cached(("credentials", tenant), lambda: _credentials_of(tenant))
    return found


def _credentials_of(tenant: str) -> dict[str, Credential]:
    opened: dict[str, Credential] = {}
    for row in ProviderCredential.objects.filter(tenant=tenant):
        opened[row.provider] = open_or_empty(row)
    return opened


def credential_for(tenant: str, provider: str) -> Credential | None:
    row = ProviderCredential.objects.filter(tenant=tenant, provider=provider).first() if tenant else None
    return open_or_empty(row) if row is not None else None


def open_or_empty(row: ProviderCredential) -> Credential:
    try:
        return row.opened()
    except (InvalidToken, SecretBoxUnavailable, ValueError) as err:
        log_event(logger, "tenancy.credential_unreadable", level=logging.ERROR, tenant=row.tenant,
                  provider=row.provider, credential_id=row.pk, error=type(err).__name__)  # fmt: skip
        fields = frozenset(fields_of(row.provider))
        return Credential(id=int(row.pk), version=int(row.version), tenant=row.tenant, provider=row.provider,
                          values={}, fields=fields)  # fmt: skip


def breaker_name_for(log: CommunicationLog, provider: str) -> str:
    """The breaker a send of `log` through `provider` went through (a receipt's blame counts there)."""
    credential = credential_for(log.tenant_id, provider)
    if credential is None:
        return provider
    return tenant_breaker_name(provider, tenant=credential.tenant, credential_id=credential.id)
