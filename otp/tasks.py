"""OTP's Celery tasks: thin, they take ids, are safe to run twice, and hold no logic of their own.

They keep the names they had in workers/tasks.py ("workers.tasks.deliver_otp", ...): a task's name
is what the broker, the routes in celeryconfig.py, the beat schedule and Flower know it by, so
messages queued before a deploy still find it. OtpConfig.ready imports this module, so every
process that runs Django knows them.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from django.utils import timezone

from otp.delivery import deliver_one_time_code

# The database is gone (restarting, failing over, unreachable): the task waits and tries again.
DATABASE_DOWN = (OperationalError, InterfaceError)
DATABASE_RETRY_MAX_SECONDS = 10.0


class DeliveryRetry(Exception):
    """Why a delivery is tried again; Flower shows it on the task's RETRY state."""


@shared_task(bind=True, name="workers.tasks.deliver_otp", max_retries=None)
def deliver_otp(self: Task, otp_id: str) -> str:
    """Deliver one OneTimeCode by id; retries itself while providers are down and the code is valid.

    A lost database connection is retried too (on a fresh connection), never dropped.
    """
    try:
        step = deliver_one_time_code(
            otp_id, retries=self.request.retries, lease_seconds=settings.OTP_CLAIM_LEASE_SECONDS
        )
    except DATABASE_DOWN as err:
        close_old_connections()  # a broken connection is dropped, the retry opens a new one
        raise self.retry(exc=err, countdown=min(DATABASE_RETRY_MAX_SECONDS, 0.5 * 2**self.request.retries)) from err
    if not step.done:
        raise self.retry(countdown=step.retry_in, exc=DeliveryRetry(step.reason))
    # Flower lists a delivery that needed retries as such, not as a plain success.
    return f"{step.reason} after {self.request.retries} retries" if self.request.retries else step.reason


@shared_task(name="workers.tasks.recover_undelivered_codes")
def recover_undelivered_codes() -> dict[str, int]:
    """Publish delivery again for accepted codes whose task was lost (see otp/recovery.py)."""
    from otp.recovery import recover_lost_resends
    from otp.recovery import recover_undelivered_codes as sweep

    try:
        result = sweep(now=timezone.now(), publish=lambda otp_id: deliver_otp.delay(otp_id))
        resends = recover_lost_resends(now=timezone.now(), publish=lambda log_id: resume_lost_resend.delay(log_id))
    except DATABASE_DOWN:
        close_old_connections()  # the next beat tick sweeps again on a fresh connection
        return {"republished": 0, "settled_stale": 0, "database_down": 1}
    return {
        "republished": result.republished,
        "settled_stale": result.settled_stale,
        "resends_republished": resends.republished,
        "resends_settled_stale": resends.settled_stale,
    }


@shared_task(name="workers.tasks.resume_lost_resend")
def resume_lost_resend(resend_log_id: int) -> str:
    """Send a resend whose worker died before its provider call (published by the recovery sweep)."""
    from otp.recovery import resume_lost_resend as resume

    return resume(resend_log_id, now=timezone.now())


@shared_task(name="workers.tasks.resend_otp")
def resend_otp(log_id: int, reason: str) -> str:
    """Send a code once more through the next provider (a receipt blamed the provider, or none came)."""
    from django.utils import timezone

    from otp.resend import resend_through_next_provider

    return resend_through_next_provider(log_id, reason=reason, now=timezone.now())


def enqueue_resend(log_id: int, reason: str) -> None:
    """otp's resend handler (messaging.resend_handlers, kind OTP_KIND): a failure receipt of a code
    blamed its provider, so the code goes once more through the next provider, from a worker."""
    resend_otp.delay(log_id, reason)


@shared_task(name="workers.tasks.resend_codes_without_receipt")
def resend_codes_without_receipt() -> int:
    """Beat: queue one resend for each code with no receipt in time, or a failure receipt's lost resend."""
    from django.utils import timezone

    from otp.resend import resend_codes_without_receipt as find_and_resend

    return find_and_resend(now=timezone.now(), enqueue=lambda log_id, reason: resend_otp.delay(log_id, reason))
