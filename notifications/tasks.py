"""Thin Celery tasks for tenant messages: they take ids and are safe to run twice."""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from django.utils import timezone

DATABASE_DOWN = (OperationalError, InterfaceError)


@shared_task(bind=True, name="notifications.tasks.deliver_message", max_retries=None)
def deliver_message(self: Task, message_pk: int) -> str:
    """Deliver one tenant message; retries itself while every provider fails (then gives up)."""
    from notifications.delivery import deliver_tenant_message

    try:
        step = deliver_tenant_message(
            message_pk, retries=self.request.retries, lease_seconds=settings.OTP_CLAIM_LEASE_SECONDS
        )
    except DATABASE_DOWN as err:
        close_old_connections()
        raise self.retry(exc=err, countdown=min(10.0, 0.5 * 2**self.request.retries)) from err
    if not step.done:
        raise self.retry(countdown=step.retry_in)
    return step.reason


@shared_task(name="notifications.tasks.resend_message")
def resend_message(log_id: int, reason: str) -> str:
    """Send a tenant message once more through the next provider (a failure receipt blamed the first)."""
    from notifications.resend import resend_through_next_provider

    return resend_through_next_provider(log_id, reason=reason, now=timezone.now())


@shared_task(name="notifications.tasks.recover_queued_messages")
def recover_queued_messages() -> int:
    """Beat: publish delivery again for accepted messages whose task was lost."""
    from notifications.recovery import recover_queued_messages as sweep

    return sweep(now=timezone.now(), publish=lambda pk: deliver_message.delay(pk))


@shared_task(name="notifications.tasks.deliver_callback")
def deliver_callback(delivery_pk: int, due_at: str) -> str:
    """Make one attempt of a status callback (the `callbacks` queue, so a slow tenant delays no message)."""
    from datetime import datetime

    from notifications.callbacks.dispatch import attempt

    return attempt(delivery_pk, due_at=datetime.fromisoformat(due_at))


@shared_task(name="notifications.tasks.dispatch_due_callbacks")
def dispatch_due_callbacks() -> int:
    """Beat: publish the status callbacks whose next attempt is due."""
    from notifications.callbacks.dispatch import dispatch_due

    return dispatch_due(now=timezone.now(), publish=publish_callback)


def publish_callback(delivery_pk: int, due_at: str) -> None:
    deliver_callback.delay(delivery_pk, due_at)  # routed to the callbacks queue (celeryconfig.task_routes)


@shared_task(name="notifications.tasks.resend_messages_without_receipt")
def resend_messages_without_receipt() -> int:
    """Beat: one resend through the next provider for each tenant message with no receipt in time."""
    from notifications.receipt_timeout import resend_messages_without_receipt as find_and_resend

    return find_and_resend(now=timezone.now(), enqueue=lambda log_id, reason: resend_message.delay(log_id, reason))
