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


@shared_task(name="workers.tasks.resend_otp")
def resend_otp(log_id: int, reason: str) -> str:
    """Send a code once more through the next provider (a receipt blamed the provider, or none came)."""
    from django.utils import timezone

    from otp.resend import resend_through_next_provider

    return resend_through_next_provider(log_id, reason=reason, now=timezone.now())


@shared_task(name="workers.tasks.resend_codes_without_receipt")
def resend_codes_without_receipt() -> int:
    """Beat: queue one resend for each code whose provider sent no receipt within its timeout."""
    from django.utils import timezone

    from otp.resend import resend_codes_without_receipt as find_and_resend

    return find_and_resend(now=timezone.now(), enqueue=lambda log_id, reason: resend_otp.delay(log_id, reason))


@shared_task(name="workers.tasks.read_sns_sms_receipts")
def read_sns_sms_receipts() -> int:
    """Beat: turn new SNS SMS delivery-status log entries (CloudWatch Logs) into receipts."""
    from messaging.receipts.sns_sms import read_delivery_logs

    return read_delivery_logs()
