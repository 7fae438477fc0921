"""Retention: codes are kept a day past expiry, communication logs for a configured period, and the
record of a spent verification token until the token itself has expired (then it is refused anyway)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from accounts.models import RedeemedToken
from messaging.models import CommunicationLog
from otp.models import OneTimeCode


def purge_expired_records(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past retention. Returns how many codes, logs and spent tokens went."""
    now = now or timezone.now()
    code_cutoff = now - timedelta(hours=settings.OTP_CODE_RETENTION_HOURS)
    _, codes = OneTimeCode.objects.filter(expires_at__lt=code_cutoff).delete()
    log_cutoff = now - timedelta(days=settings.MESSAGING_LOG_RETENTION_DAYS)
    # Deleting a log deletes its attempts too; count the logs alone.
    _, logs = CommunicationLog.objects.filter(created_at__lt=log_cutoff).delete()
    # An hour past expiry, so a web host whose clock runs behind still refuses the token for its age.
    spent, _ = RedeemedToken.objects.filter(expires_at__lt=now - timedelta(hours=1)).delete()
    return {
        "codes": codes.get(OneTimeCode._meta.label, 0),
        "logs": logs.get(CommunicationLog._meta.label, 0),
        "spent_tokens": spent,
    }
