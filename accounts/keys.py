"""API keys: made once, shown once, stored as a hash; DRF authentication by key."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from accounts.models import ApiKey, ApiKeyKind, Tenant

KEY_PREFIX = "otpk"


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(tenant: Tenant, *, name: str = "", kind: str = ApiKeyKind.LIVE) -> tuple[ApiKey, str]:
    """Return the stored key and the plaintext key; the plaintext is not kept anywhere."""
    api_key = ApiKey(tenant=tenant, name=name, kind=kind)
    key = issue_key(api_key)
    api_key.save()
    return api_key, key


def issue_key(api_key: ApiKey) -> str:
    """Give the unsaved `api_key` a new secret (its prefix and hash) and return the plaintext, once."""
    api_key.prefix = secrets.token_hex(6)
    key = f"{KEY_PREFIX}_{api_key.prefix}_{secrets.token_urlsafe(32)}"
    api_key.key_hash = _hash(key)
    return key


def find_api_key(key: str) -> ApiKey | None:
    """The live ApiKey whose secret is `key`, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    api_key = ApiKey.objects.select_related("tenant").filter(prefix=parts[1], revoked_at__isnull=True).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, _hash(key)):
        return None
    return api_key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>` or `Authorization: Bearer <key>`.

    No header: anonymous (None). A header with a wrong or revoked key: 401, never anonymous.
    On success request.user is None and request.auth is the ApiKey.
    """

    keywords = ("api-key", "bearer")

    def authenticate(self, request: Request) -> tuple[None, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() not in self.keywords:
            return None
        api_key = find_api_key(key.strip())
        if api_key is None:
            raise exceptions.AuthenticationFailed("The API key is not valid.")
        return (None, api_key)

    def authenticate_header(self, request: Request) -> str:
        return "Api-Key"
