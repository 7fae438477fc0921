"""Spending a verification token: each `jti` is accepted once, also under concurrency."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import RedeemedToken


def spend_token(claims: dict[str, Any]) -> bool:
    """Record the token as used; False if it already was (the primary key decides, atomically)."""
    try:
        with transaction.atomic():
            RedeemedToken.objects.create(
                jti=claims["jti"],
                tenant_slug=claims["tenant"],
                purpose=claims["purpose"],
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
    except IntegrityError:
        return False
    return True
