"""Generating, hashing and checking codes. Only the HMAC of a code ever leaves memory."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.conf import settings
from django.views.decorators.debug import sensitive_variables


def generate_code(length: int | None = None) -> str:
    """A uniformly random string of decimal digits, leading zeros kept."""
    length = length or settings.OTP_LENGTH
    return f"{secrets.randbelow(10**length):0{length}d}"


@sensitive_variables("code")
def hash_code(code: str, *, otp_id: str) -> str:
    """HMAC-SHA256 of the code, keyed by the server secret and bound to its row.

    Binding to the row id means the same digits issued twice never share a hash.
    """
    key = settings.OTP_HMAC_KEY.encode()
    return hmac.new(key, f"{otp_id}:{code}".encode(), hashlib.sha256).hexdigest()


@sensitive_variables("code")
def code_matches(code: str, *, otp_id: str, code_hash: str) -> bool:
    """Constant-time comparison of a submitted code with a stored hash."""
    if not code_hash:
        return False
    return hmac.compare_digest(hash_code(code, otp_id=otp_id), code_hash)
