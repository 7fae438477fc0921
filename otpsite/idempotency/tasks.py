"""Beat: forget Idempotency-Keys past their window."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(name="otpsite.idempotency.tasks.purge_idempotency_records")
def purge_idempotency_records() -> int:
    from otpsite.idempotency.store import purge_expired

    return purge_expired(now=timezone.now())
