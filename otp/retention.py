"""Retention: codes are kept a day past expiry, communication logs for a configured period.

(The record of a spent verification token is kept until the token has expired: accounts.redemption;
the beat task workers.tasks.purge_expired_records runs both.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import CommunicationLog
from otp.models import OneTimeCode


def purge_expired_records(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past retention. Returns how many codes and logs went."""
    now = now or timezone.now()
    code_cutoff = now - timedelta(hours=settings.OTP_CODE_RETENTION_HOURS)
    _, codes = OneTimeCode.objects.filter(expires_at__lt=code_cutoff).delete()
    log_cutoff = now - timedelta(days=settings.MESSAGING_LOG_RETENTION_DAYS)
    # Deleting a log deletes its attempts too; count the logs alone.
    _, logs = CommunicationLog.objects.filter(created_at__lt=log_cutoff).delete()
    return {
        "codes": codes.get(OneTimeCode._meta.label, 0),
        "logs": logs.get(CommunicationLog._meta.label, 0),
    }
