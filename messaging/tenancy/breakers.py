"""Tenants' own breakers, for operators: one per tenant credential, apart from the platform's.

The platform's breakers are one per provider (a bounded set); tenants' are one per credential, so
every view of them is bounded: `manage.py messaging_breakers --tenants` lists those that are not
closed (or are counting failures), at most TENANT_BREAKERS_SHOWN, and `--reset` takes their names
too; /health/messaging shows staff at most MESSAGING_HEALTH_TENANT_BREAKERS of them (tenant_report)
and /metrics exports that many not closed (observability.collectors). Open ones come first, then
half open, then closed ones counting failures. A tenant's breaker never changes the service's
overall health: it stops only that tenant's account.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from messaging.breaker import CLOSED, HALF_OPEN, OPEN, BreakerSnapshot, breaker_for, tenant_breaker_name
from messaging.tenancy.models import ProviderCredential

TENANT_BREAKERS_SHOWN = 50


SEVERITY = {OPEN: 0, HALF_OPEN: 1, CLOSED: 2}


@dataclass(frozen=True)
class TenantBreaker:
    tenant: str
    provider: str
    snapshot: BreakerSnapshot


def tenant_breaker_names() -> list[str]:
    rows = ProviderCredential.objects.order_by("tenant", "provider").values_list("provider", "tenant", "pk")
    return [tenant_breaker_name(provider, tenant=tenant, credential_id=pk) for provider, tenant, pk in rows]


def troubled(limit: int) -> tuple[list[TenantBreaker], int, int]:
    """The tenant breakers open, half open or counting failures, worst first, at most `limit`; with
    how many tenant breakers there are and how many of them are not closed."""
    rows = ProviderCredential.objects.order_by("tenant", "provider").values_list("provider", "tenant", "pk")
    found, not_closed = [], 0
    for provider, tenant, pk in rows:
        snapshot = breaker_for(tenant_breaker_name(provider, tenant=tenant, credential_id=pk)).snapshot()
        not_closed += snapshot.state != CLOSED
        if snapshot.state != CLOSED or snapshot.failure_count:
            found.append(TenantBreaker(tenant, provider, snapshot))
    found.sort(key=lambda found: (SEVERITY.get(found.snapshot.state, 0), -found.snapshot.failure_count))
    return found[: max(0, limit)], len(rows), not_closed


def troubled_tenant_breakers(limit: int = TENANT_BREAKERS_SHOWN) -> list[BreakerSnapshot]:
    """Snapshots of the tenant breakers that are open or half open (or counting failures), at most `limit`."""
    return [found.snapshot for found in troubled(limit)[0]]


def tenant_report(limit: int) -> dict[str, Any]:
    """/health/messaging's `tenant_breakers` (staff only): the counts and at most `limit` entries."""
    from messaging.health import iso

    shown, total, not_closed = troubled(limit)
    return {
        "total": total,
        "not_closed": not_closed,
        "shown_at_most": limit,
        "breakers": [
            {
                "breaker": found.snapshot.provider,
                "tenant": found.tenant,
                "provider": found.provider,
                "circuit_breaker": found.snapshot.state,
                "failure_count": found.snapshot.failure_count,
                "last_error": found.snapshot.last_error or None,
                "opened_at": iso(found.snapshot.opened_at),
                "next_attempt_at": iso(found.snapshot.next_attempt_at),
            }
            for found in shown
        ],
    }
