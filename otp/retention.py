"""Retention: codes are kept a day past expiry, communication logs for a configured period."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from messaging.models import CommunicationLog
from otp.models import OneTimeCode


def purge_expired_records(now: datetime | None = None) -> dict[str, int]:
    """Delete what is past retention. Returns how many codes and logs went."""
    now = now or timezone.now()
    codes, _ = OneTimeCode.objects.filter(
        expires_at__lt=now - timedelta(hours=settings.OTP_CODE_RETENTION_HOURS)
    ).delete()
    logs, _ = CommunicationLog.objects.filter(
        created_at__lt=now - timedelta(days=settings.MESSAGING_LOG_RETENTION_DAYS)
    ).delete()
    return {"codes": codes, "logs": logs}
