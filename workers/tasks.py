"""Thin Celery tasks: they take ids, are safe to run twice, and hold no logic of their own."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from otp.delivery import deliver_one_time_code


@shared_task(bind=True, name="workers.tasks.deliver_otp", max_retries=None)
def deliver_otp(self: Task, otp_id: str) -> str:
    """Deliver one OneTimeCode by id; retries itself while providers are down and the code is valid."""
    step = deliver_one_time_code(otp_id, retries=self.request.retries, lease_seconds=settings.OTP_CLAIM_LEASE_SECONDS)
    if not step.done:
        raise self.retry(countdown=step.retry_in)
    return step.reason


@shared_task(name="workers.tasks.purge_expired_records")
def purge_expired_records() -> dict[str, int]:
    """Delete codes a day after they expire and logs past their retention period."""
    from otp.retention import purge_expired_records as purge

    return purge()
