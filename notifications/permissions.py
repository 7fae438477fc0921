"""Tenant endpoints need a tenant's API key; a request without one gets 401."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

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
