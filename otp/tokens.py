"""Verification tokens: a short-lived JWT (ES256) that says a contact was verified.

A successful verify returns one; the application's backend checks it offline against the public
keys at /.well-known/jwks.json, or redeems it once at /api/v1/auth/otp/token/redeem.

Keys live in a JSON key file (OTP_SIGNING_KEY_FILE), made on first use and rotated by
`manage.py otp_signing_keys --rotate`: the newest key signs, retired keys stay published until
every token they signed has expired. OTP_SIGNING_KEY_PEM, when set, is the only key.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"
REQUIRED_CLAIMS = ["iss", "iat", "exp", "jti", "tenant", "channel", "recipient", "purpose"]


class InvalidToken(Exception):
    """The token is malformed, altered, expired, signed by an unknown key or from another issuer."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_pem: str
    created_at: datetime
    retired_at: datetime | None = None

    def private_key(self) -> ec.EllipticCurvePrivateKey:
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("a verification signing key must be an EC P-256 key")
        return key

    def public_jwk(self) -> dict[str, Any]:
        jwk = json.loads(ECAlgorithm.to_jwk(self.private_key().public_key()))
        return {**jwk, "kid": self.kid, "alg": ALGORITHM, "use": "sig"}

    def as_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "private_pem": self.private_pem,
            "created_at": self.created_at.isoformat(),
            "retired_at": self.retired_at.isoformat() if self.retired_at else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SigningKey:
        retired = data.get("retired_at")
        return cls(
            kid=data["kid"],
            private_pem=data["private_pem"],
            created_at=datetime.fromisoformat(data["created_at"]),
            retired_at=datetime.fromisoformat(retired) if retired else None,
        )


def new_signing_key(now: datetime) -> SigningKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return SigningKey(kid=_thumbprint(private.public_key()), private_pem=pem, created_at=now)


def _thumbprint(public: ec.EllipticCurvePublicKey) -> str:
    """The first 16 characters of the key's SHA-256 DER digest, hex: stable for a key."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = hashes.Hash(hashes.SHA256())
    digest.update(der)
    return digest.finalize().hex()[:16]


# --- The key set ---------------------------------------------------------------------------


def load_keys() -> list[SigningKey]:
    """Every known key, oldest first. Makes the key file with one key if there is none yet."""
    if settings.OTP_SIGNING_KEY_PEM:
        pem = settings.OTP_SIGNING_KEY_PEM.replace("\\n", "\n")
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise TypeError("OTP_SIGNING_KEY_PEM must be an EC P-256 private key")
        return [SigningKey(kid=_thumbprint(key.public_key()), private_pem=pem, created_at=datetime.now(UTC))]
    path = Path(settings.OTP_SIGNING_KEY_FILE)
    if not path.exists():
        _write_new_file(path, [new_signing_key(datetime.now(UTC))])
    data = json.loads(path.read_text())
    return [SigningKey.from_dict(entry) for entry in data["keys"]]


def _write_new_file(path: Path, keys: list[SigningKey]) -> None:
    """Create the file only if absent: two processes starting at once agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _write_temp(path, keys)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def save_keys(keys: list[SigningKey]) -> None:
    """Replace the key file atomically (readers see the old or the new set, never half)."""
    path = Path(settings.OTP_SIGNING_KEY_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(_write_temp(path, keys), path)


def _write_temp(path: Path, keys: list[SigningKey]) -> str:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    with os.fdopen(fd, "w") as handle:  # mkstemp makes it 0600: private keys are for this user only
        json.dump({"keys": [key.as_dict() for key in keys]}, handle, indent=2)
    return tmp


def rotate_keys(now: datetime) -> tuple[SigningKey, list[SigningKey]]:
    """Make a new signing key and retire the current ones; drop keys whose tokens have all expired.

    Returns the new key and the keys still published.
    """
    if settings.OTP_SIGNING_KEY_PEM:
        raise RuntimeError("OTP_SIGNING_KEY_PEM is set: rotate by changing it, or use the key file instead.")
    kept = [_retired(key, now) for key in load_keys() if _still_published(key, now)]
    new_key = new_signing_key(now)
    save_keys([*kept, new_key])
    return new_key, [*kept, new_key]


def _retired(key: SigningKey, now: datetime) -> SigningKey:
    return key if key.retired_at else SigningKey(key.kid, key.private_pem, key.created_at, now)


def _still_published(key: SigningKey, now: datetime) -> bool:
    lifetime = timedelta(seconds=settings.OTP_TOKEN_TTL_SECONDS)
    return key.retired_at is None or key.retired_at + lifetime > now


def current_key() -> SigningKey:
    active = [key for key in load_keys() if key.retired_at is None]
    if not active:
        raise RuntimeError("no active verification signing key; run `manage.py otp_signing_keys --rotate`")
    return active[-1]


def jwks(now: datetime | None = None) -> dict[str, Any]:
    """The public half of every key whose tokens may still be valid."""
    moment = now or datetime.now(UTC)
    return {"keys": [key.public_jwk() for key in load_keys() if _still_published(key, moment)]}


# --- Tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verified:
    tenant: str
    channel: str
    recipient: str
    purpose: str


def issue_token(verified: Verified, *, now: datetime) -> str:
    key = current_key()
    claims = {
        "iss": settings.OTP_TOKEN_ISSUER,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + settings.OTP_TOKEN_TTL_SECONDS,
        "jti": uuid.uuid4().hex,
        "tenant": verified.tenant,
        "channel": verified.channel,
        "recipient": verified.recipient,
        "purpose": verified.purpose,
    }
    return jwt.encode(claims, key.private_key(), algorithm=ALGORITHM, headers={"kid": key.kid})


def decode_token(token: str) -> dict[str, Any]:
    """The token's claims if its signature, issuer and lifetime hold. Raises InvalidToken."""
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        now = datetime.now(UTC)
        key = next((k for k in load_keys() if k.kid == kid and _still_published(k, now)), None)
        if key is None:
            raise InvalidToken("signed by an unknown key")
        return jwt.decode(
            token,
            key.private_key().public_key(),
            algorithms=[ALGORITHM],
            issuer=settings.OTP_TOKEN_ISSUER,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as err:
        raise InvalidToken(str(err)) from err
