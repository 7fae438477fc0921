"""Tenant endpoints need a tenant's API key (a request without one gets 401) and count against its limits."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.keys import ApiKeyAuthentication
from accounts.models import ApiKey


class HasApiKey(BasePermission):
    message = "Send your API key: Authorization: Api-Key <key>."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey)


def api_key_of(request: Request) -> ApiKey:
    """The caller's key, in a view guarded by HasApiKey."""
    key = request.auth
    assert isinstance(key, ApiKey)  # HasApiKey refused the request otherwise
    return key


class TenantAPIView(APIView):
    """A view for a tenant's backend: its API key is required, and counted against its limits."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        from notifications import limits

        limits.admit_request(api_key_of(request), now=timezone.now())

    def handle_exception(self, exc: Exception) -> Response:
        from notifications import limits

        if isinstance(exc, limits.TooMany):
            headers = {"Retry-After": str(exc.wait), "Cache-Control": "no-store"}
            return Response(exc.answer(), status=status.HTTP_429_TOO_MANY_REQUESTS, headers=headers)
        return super().handle_exception(exc)
