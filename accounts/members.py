"""Who belongs to which tenant: a tenant's staff, as the tenant console (web.console) asks."""

from __future__ import annotations

from typing import Any

from accounts.models import TenantMember


def membership_of(user: Any) -> TenantMember | None:
    """The user's membership (with its tenant), or None for anonymous users and platform-only accounts."""
    if user is None or not user.is_authenticated:
        return None
    return TenantMember.objects.select_related("tenant").filter(user=user).first()
