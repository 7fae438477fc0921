"""Tenants' own breakers, for operators: one per tenant credential, apart from the platform's.

/health/messaging and /metrics show the platform's breakers only (one per provider, a bounded set);
`manage.py messaging_breakers --tenants` lists the tenant breakers that are not closed, at most
TENANT_BREAKERS_SHOWN of them, and `--reset` takes their names too.
"""

from __future__ import annotations

from messaging.breaker import CLOSED, BreakerSnapshot, breaker_for, tenant_breaker_name
from messaging.tenancy.models import ProviderCredential

TENANT_BREAKERS_SHOWN = 50


def tenant_breaker_names() -> list[str]:
    rows = ProviderCredential.objects.order_by("tenant", "provider").values_list("provider", "tenant", "pk")
    return [tenant_breaker_name(provider, tenant=tenant, credential_id=pk) for provider, tenant, pk in rows]


def troubled_tenant_breakers(limit: int = TENANT_BREAKERS_SHOWN) -> list[BreakerSnapshot]:
    """Snapshots of the tenant breakers that are open or half open (or counting failures), at most `limit`."""
    found = []
    for name in tenant_breaker_names():
        snapshot = breaker_for(name).snapshot()
        if snapshot.state != CLOSED or snapshot.failure_count:
            found.append(snapshot)
            if len(found) >= limit:
                break
    return found
