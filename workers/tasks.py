"""The worker's own tasks: work that spans the layers below (each layer's tasks live in its tasks.py)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from accounts.redemption import purge_spent_tokens
from otp.retention import purge_expired_records as purge_codes_and_logs


@shared_task(name="workers.tasks.purge_expired_records")
def purge_expired_records() -> dict[str, int]:
    """Delete codes a day after they expire, logs past their retention period, and spent tokens'
    records once the tokens have expired. Returns how many of each went."""
    now = timezone.now()
    return {**purge_codes_and_logs(now), "spent_tokens": purge_spent_tokens(now)}
