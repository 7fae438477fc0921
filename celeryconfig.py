"""Celery settings: delivery that survives a killed worker and never duplicates a send.

Values that vary by deployment come from otpsite/settings.py (the one place that reads the
environment); the rest are fixed here on purpose.
"""

from __future__ import annotations

import django
from django.conf import settings
from kombu import Queue

django.setup()

broker_url = settings.CELERY_BROKER_URL
# Results are not used: tasks report through CommunicationLog.
task_ignore_result = True
result_backend = None

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]

# A task is acknowledged only when it finishes, and given back if its worker dies, so a
# killed worker's message is delivered later; the log-row claim keeps it to one send.
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1

# Time limits stay well under the broker's visibility timeout, and no retry ETA goes beyond it.
task_time_limit = settings.CELERY_TASK_TIME_LIMIT
task_soft_time_limit = max(1, int(task_time_limit * 0.75))
broker_transport_options = {
    "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT,
    # Sweep for tasks of dead workers every few seconds (kombu's default is about every 100 s).
    "unacked_restore_interval": max(1, min(10, settings.CELERY_VISIBILITY_TIMEOUT // 5)),
    "unacked_restore_throttle": 1,
    "socket_timeout": settings.REDIS_SOCKET_TIMEOUT * 4,
    "socket_connect_timeout": settings.REDIS_SOCKET_TIMEOUT * 2,
}
if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ: the default queue is durable and messages persistent; a publish returns only once
    # the broker confirmed it, and a dead consumer's unacknowledged messages come back at once.
    broker_transport_options = {"confirm_publish": True}
task_default_delivery_mode = "persistent"
broker_connection_retry_on_startup = True
# A publish from a web request fails fast when Redis is down, so the request can answer 503.
task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
broker_connection_timeout = 1.0

# What a task prints (the console SMS provider) stays on stdout instead of becoming a log record.
worker_redirect_stdouts = False

# Flower and `celery events` see task progress from the moment a worker receives a task.
# task_send_sent_event stays off: it adds a second Redis round trip to every publish from the web.
worker_send_task_events = True
task_send_sent_event = False

# Celery's Django fixup closes the database connection around every task unless told to reuse
# it; reuse took a one-UPDATE task from about 165 to 558 tasks/s on our 2-core machine.
CELERY_DB_REUSE_MAX = 1000

# Status callbacks to tenants have a queue of their own (notifications.tasks.deliver_callback), so a
# slow or dead tenant endpoint never delays a message; a worker consumes every queue listed here
# unless started with -Q (e.g. `-Q callbacks` for a dedicated callbacks worker).
task_queues = (Queue("celery"), Queue("callbacks"))
task_routes = {"notifications.tasks.deliver_callback": {"queue": "callbacks"}}

timezone = "UTC"
enable_utc = True

beat_schedule = {
    "purge-expired-records": {"task": "workers.tasks.purge_expired_records", "schedule": 3600.0},
    "purge-idempotency-records": {
        "task": "otpsite.idempotency.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    "resend-codes-without-receipt": {
        "task": "workers.tasks.resend_codes_without_receipt",
        "schedule": settings.MESSAGING_RECEIPT_SWEEP_SECONDS,
    },
    "read-sns-sms-receipts": {
        "task": "workers.tasks.read_sns_sms_receipts",
        "schedule": settings.MESSAGING_RECEIPT_SWEEP_SECONDS,
    },
    "resend-messages-without-receipt": {
        "task": "notifications.tasks.resend_messages_without_receipt",
        "schedule": settings.MESSAGING_RECEIPT_SWEEP_SECONDS,
    },
    "dispatch-due-callbacks": {
        "task": "notifications.tasks.dispatch_due_callbacks",
        "schedule": settings.CALLBACKS_SWEEP_SECONDS,
        "options": {"expires": settings.CALLBACKS_SWEEP_SECONDS},
    },
    # The same for tenant messages (notifications/recovery.py).
    "recover-queued-messages": {
        "task": "notifications.tasks.recover_queued_messages",
        "schedule": settings.OTP_RECOVERY_SWEEP_SECONDS,
        "options": {"expires": settings.OTP_RECOVERY_SWEEP_SECONDS},
    },
    # The way back for codes whose task was lost (otp/recovery.py). A sweep nobody ran in time
    # is dropped instead of piling up behind a stopped worker.
    "recover-undelivered-codes": {
        "task": "workers.tasks.recover_undelivered_codes",
        "schedule": settings.OTP_RECOVERY_SWEEP_SECONDS,
        "options": {"expires": settings.OTP_RECOVERY_SWEEP_SECONDS},
    },
}
