"""Messaging's Celery tasks (beat): receipts that wait for their message, and SNS SMS delivery logs.

They keep the names they had in workers/tasks.py (see otp/tasks.py); MessagingConfig.ready imports
this module, so every process that runs Django knows them.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workers.tasks.apply_pending_receipts")
def apply_pending_receipts() -> int:
    """Beat: apply signed receipts that arrived before their message id was stored."""
    from messaging.receipts.pending import apply_pending

    return apply_pending()


@shared_task(name="workers.tasks.read_sns_sms_receipts")
def read_sns_sms_receipts() -> int:
    """Beat: turn new SNS SMS delivery-status log entries (CloudWatch Logs) into receipts."""
    from messaging.providers.sns.receipts import read_delivery_logs

    return read_delivery_logs()
