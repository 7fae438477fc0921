"""Spending a verification token: each `jti` is accepted once, also under concurrency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


def purge_spent_tokens(now: datetime) -> int:
    """Forget spent tokens an hour past their expiry (then they are refused for their age anyway).

    The hour lets a web host whose clock runs behind still refuse the token for its age.
    """
    spent, _ = RedeemedToken.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    return spent
