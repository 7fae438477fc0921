"""API views whose caller may present a tenant's API key, without the layers below accounts importing it.

settings.API_KEY_AUTHENTICATION names the DRF authentication class (accounts.keys.ApiKeyAuthentication),
read when a request comes in: the settings compose the layers, as DRF's DEFAULT_AUTHENTICATION_CLASSES
would, so otp's send and verify views authenticate keys although accounts is the layer above otp.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string
from rest_framework.authentication import BaseAuthentication


class ApiKeyAuthenticated:
    """Mixin for an APIView: its only authentication is the API key (no header: anonymous)."""

    def get_authenticators(self) -> list[BaseAuthentication]:
        return [import_string(settings.API_KEY_AUTHENTICATION)()]
