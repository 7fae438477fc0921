"""Secrets kept at rest: Fernet (AES-128-CBC + HMAC-SHA256) under settings.CREDENTIALS_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts (MultiFernet), so a new key goes first, `manage.py
rotate_credentials` re-encrypts every row under it, and only then is the old key dropped. Nothing
here logs, and no error text carries a plaintext or a key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

__all__ = ["InvalidToken", "SecretBoxUnavailable", "check_keys", "development_key", "open_box", "rotate", "seal"]


class SecretBoxUnavailable(ImproperlyConfigured):
    """No encryption key is configured (DEBUG off and CREDENTIALS_ENCRYPTION_KEYS unset)."""


def development_key(secret_key: str) -> str:
    """A Fernet key derived from SECRET_KEY, for DEBUG (make run) only: settings refuse it otherwise."""
    digest = hashlib.sha256(f"credentials-development-key:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def check_keys(keys: Sequence[str], *, variable: str) -> None:
    """Raise ImproperlyConfigured naming `variable` (never the key) if a key is not a Fernet key."""
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{variable}: key {position} is not a Fernet key (urlsafe base64 of 32 bytes)"
            ) from None


@lru_cache(maxsize=4)
def _box(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current() -> MultiFernet:
    from django.conf import settings

    keys = tuple(settings.CREDENTIALS_ENCRYPTION_KEYS)
    if not keys:
        raise SecretBoxUnavailable("CREDENTIALS_ENCRYPTION_KEYS must be set to store or read tenant credentials.")
    return _box(keys)


def seal(plaintext: bytes) -> str:
    """The Fernet token of `plaintext` under the first key."""
    return _current().encrypt(plaintext).decode("ascii")


def open_box(token: str) -> bytes:
    """The plaintext sealed in `token` under any configured key. Raises InvalidToken otherwise."""
    return _current().decrypt(token.encode("ascii"))


def rotate(token: str) -> str:
    """`token` re-encrypted under the first key (its original timestamp kept). Raises InvalidToken."""
    return _current().rotate(token.encode("ascii")).decode("ascii")
