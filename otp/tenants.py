"""Which tenant a send or verify acts for: the default one, unless the caller's API key says otherwise.

The key is whatever the API key authentication (settings.API_KEY_AUTHENTICATION, accounts.keys)
put in request.auth: otp reads only its tenant's slug, its kind and its prefix, and never imports
accounts, the layer above.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

ANONYMOUS_TENANT_REFUSED = "Only a caller with an API key can choose a tenant; leave tenant_id out."
OTHER_TENANT_REFUSED = "This API key belongs to another tenant."


def resolve_tenant(*, requested: str | None, api_key: Any | None) -> str:
    """The tenant slug a send or verify acts for.

    Anonymous callers get the default tenant (naming it is allowed, naming any other is refused,
    so rotating tenant_id buys no fresh per-tenant limit). A caller with an API key acts for the
    key's tenant, which exists by construction. Raises a DRF ValidationError on tenant_id.
    """
    if api_key is None:
        if requested not in (None, settings.OTP_DEFAULT_TENANT):
            raise serializers.ValidationError({"tenant_id": [ANONYMOUS_TENANT_REFUSED]})
        return str(settings.OTP_DEFAULT_TENANT)
    if requested not in (None, api_key.tenant.slug):
        raise serializers.ValidationError({"tenant_id": [OTHER_TENANT_REFUSED]})
    return api_key.tenant.slug
