"""Celery settings: delivery that survives a killed worker and never duplicates a send.

Values that vary by deployment come from otpsite/settings.py (the one place that reads the
environment); the rest are fixed here on purpose.
"""

from __future__ import annotations

from typing import Any

import django
from django.conf import settings
from kombu import Exchange, Queue

django.setup()

from otpsite import quorum  # noqa: E402
from otpsite.beat import WhenOwed  # noqa: E402 - needs the settings set up above

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

# The pool: threads by default, so one process keeps CELERY_WORKER_CONCURRENCY provider calls in
# flight (README, "Worker capacity"). --concurrency on the command line still wins; --pool=prefork
# does not (Celery 5 takes it for its default and lets worker_pool win): use CELERY_WORKER_POOL.
worker_pool = settings.CELERY_WORKER_POOL
worker_concurrency = settings.CELERY_WORKER_CONCURRENCY

# One queue per kind of work, so slow work never waits in front of a code. A worker started
# without -Q consumes all five; docker-compose gives delivery a worker of its own.
# Each queue has its own direct exchange and routing key: a bare Queue(name) would share the
# default exchange and key, and on RabbitMQ a message routed to one queue would land in all four.
_queue_names = list(settings.CELERY_QUEUES)
task_queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in _queue_names]
# RabbitMQ quorum queues (CELERY_QUEUE_TYPE=quorum, otpsite/quorum.py): a delivery limit and a
# dead-letter queue, topic exchanges for native delayed delivery. Celery then turns off global QoS
# (worker_detect_quorum_queues) and holds countdowns in the broker instead of a worker's memory.
otpsvc_quorum_queues = settings.CELERY_QUEUE_TYPE == "quorum"
if otpsvc_quorum_queues:
    task_queues = quorum.task_queues(_queue_names, delivery_limit=settings.CELERY_QUEUE_DELIVERY_LIMIT)
    task_default_queue_type = "quorum"
    task_default_exchange_type = "topic"
    worker_detect_quorum_queues = True
task_default_queue = settings.CELERY_QUEUE_DELIVERY
task_default_exchange = settings.CELERY_QUEUE_DELIVERY
task_default_routing_key = settings.CELERY_QUEUE_DELIVERY
task_routes = {
    "workers.tasks.deliver_otp": {"queue": settings.CELERY_QUEUE_DELIVERY},
    "workers.tasks.resend_otp": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "workers.tasks.resend_codes_without_receipt": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "workers.tasks.resume_lost_resend": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "workers.tasks.apply_pending_receipts": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "workers.tasks.read_sns_sms_receipts": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "workers.tasks.recover_undelivered_codes": {"queue": settings.CELERY_QUEUE_SWEEPS},
    "workers.tasks.purge_expired_records": {"queue": settings.CELERY_QUEUE_RETENTION},
    "notifications.tasks.deliver_message": {"queue": settings.CELERY_QUEUE_DELIVERY},
    "notifications.tasks.resend_message": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "notifications.tasks.resend_messages_without_receipt": {"queue": settings.CELERY_QUEUE_RECEIPTS},
    "notifications.tasks.recover_queued_messages": {"queue": settings.CELERY_QUEUE_SWEEPS},
    "notifications.tasks.dispatch_due_callbacks": {"queue": settings.CELERY_QUEUE_SWEEPS},
    # Status callbacks to tenants have a queue of their own, so a slow or dead tenant endpoint never
    # delays a message (`-Q callbacks` gives them a worker of their own).
    "notifications.tasks.deliver_callback": {"queue": settings.CELERY_QUEUE_CALLBACKS},
    "otpsite.idempotency.tasks.purge_idempotency_records": {"queue": settings.CELERY_QUEUE_RETENTION},
}

# Time limits stay well under the broker's visibility timeout, and no retry ETA goes beyond it.
# Only the prefork pool enforces them; under threads every provider call is bounded by its own
# connect and read timeouts instead, and the claim lease (above the limit) lets the recovery
# sweep take over a code whose call is stuck anyway (README, "Worker capacity").
task_time_limit = settings.CELERY_TASK_TIME_LIMIT
task_soft_time_limit = max(1, int(task_time_limit * 0.75))
broker_transport_options: dict[str, Any] = {
    "visibility_timeout": settings.CELERY_VISIBILITY_TIMEOUT,
    # Sweep for tasks of dead workers every few seconds (kombu's default is about every 100 s).
    "unacked_restore_interval": max(1, min(10, settings.CELERY_VISIBILITY_TIMEOUT // 5)),
    "unacked_restore_throttle": 1,
    "socket_timeout": settings.REDIS_SOCKET_TIMEOUT * 4,
    "socket_connect_timeout": settings.REDIS_SOCKET_TIMEOUT * 2,
}
if broker_url.startswith("redis://"):
    # kombu's Redis transport, keeping one Redis client per channel instead of building one for every
    # acknowledgement and publish (otpsite/broker_redis.py). rediss:// and sentinel:// keep kombu's own.
    broker_transport = "otpsite.broker_redis:Transport"
if broker_url.startswith("sentinel://"):
    # Redis behind Sentinel: kombu asks the sentinels for the current master of this name on every
    # (re)connection, so after a failover the workers and the web follow the new master. Messages the
    # old master had not replicated are lost; the recovery sweep delivers their codes (README,
    # "Redis Sentinel and Cluster").
    broker_transport_options["master_name"] = settings.REDIS_SENTINEL_MASTER
    broker_transport_options["sentinel_kwargs"] = {
        "socket_timeout": settings.REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": settings.REDIS_SOCKET_TIMEOUT,
        **({"password": settings.REDIS_SENTINEL_PASSWORD} if settings.REDIS_SENTINEL_PASSWORD else {}),
    }
if broker_url.startswith(("amqp://", "amqps://", "pyamqp://")):
    # RabbitMQ: the default queue is durable and messages persistent; a publish returns only once
    # the broker confirmed it, and a dead consumer's unacknowledged messages come back at once.
    # Quorum queues need the confirm too (Celery 5.5+).
    broker_transport_options = {"confirm_publish": True}
task_default_delivery_mode = "persistent"
broker_connection_retry_on_startup = True
# A publish from a web request fails fast when Redis is down, so the request can answer 503.
task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
broker_connection_timeout = 1.0

# What a task prints (the console SMS provider) stays on stdout instead of becoming a log record.
worker_redirect_stdouts = False

# Task events (Flower's task list, `celery events`) only when CELERY_WORKER_SEND_TASK_EVENTS asks:
# each task's events cost a publish (otpsite/settings.py). Worker heartbeats are sent regardless.
# workers.flower stops Flower turning them on in every worker behind this setting's back.
# task_send_sent_event stays off: it adds a second Redis round trip to every publish from the web.
worker_send_task_events = settings.CELERY_WORKER_SEND_TASK_EVENTS
task_send_sent_event = False

# Celery's Django fixup closes the database connection around every task unless told to reuse
# it; reuse took a one-UPDATE task from about 165 to 558 tasks/s on our 2-core machine. Under the
# threads pool each thread has its own connection (Django's are per thread): the fixup's count is
# shared, and every 2000 tasks it closes the connection of the thread that runs that task. A task
# meeting a dead connection drops its own (otp/tasks.py, close_old_connections).
CELERY_DB_REUSE_MAX = 1000

timezone = "UTC"
enable_utc = True

# Each due job is sent only under its Redis lock, so two beats (one per node) send it once per period.
beat_scheduler = "otpsite.beat:LockedScheduler"

beat_schedule: dict[str, dict[str, object]] = {
    "purge-expired-records": {"task": "workers.tasks.purge_expired_records", "schedule": 3600.0},
    "purge-idempotency-records": {
        "task": "otpsite.idempotency.tasks.purge_idempotency_records",
        "schedule": 3600.0,
    },
    "resend-codes-without-receipt": {
        "task": "workers.tasks.resend_codes_without_receipt",
        "schedule": settings.MESSAGING_RECEIPT_SWEEP_SECONDS,
    },
    # Receipts that came before their message id was stored (messaging/receipts/pending.py), sent
    # only while one waits (and once a minute regardless).
    "apply-pending-receipts": {
        "task": "workers.tasks.apply_pending_receipts",
        "schedule": WhenOwed(
            settings.MESSAGING_PENDING_RECEIPT_SWEEP_SECONDS,
            check="messaging.receipts.pending.anything_parked",
            idle_every=60.0,
        ),
        "options": {"expires": settings.MESSAGING_PENDING_RECEIPT_SWEEP_SECONDS},
    },
    "resend-messages-without-receipt": {
        "task": "notifications.tasks.resend_messages_without_receipt",
        "schedule": settings.MESSAGING_RECEIPT_SWEEP_SECONDS,
    },
    "dispatch-due-callbacks": {
        "task": "notifications.tasks.dispatch_due_callbacks",
        "schedule": WhenOwed(
            settings.CALLBACKS_SWEEP_SECONDS, check="notifications.callbacks.dispatch.anything_due", idle_every=60.0
        ),
        "options": {"expires": settings.CALLBACKS_SWEEP_SECONDS},
    },
    # The same for tenant messages (notifications/recovery.py).
    "recover-queued-messages": {
        "task": "notifications.tasks.recover_queued_messages",
        "schedule": WhenOwed(
            settings.OTP_RECOVERY_SWEEP_SECONDS, check="notifications.recovery.anything_lost", idle_every=60.0
        ),
        "options": {"expires": settings.OTP_RECOVERY_SWEEP_SECONDS},
    },
    # The way back for codes whose task was lost (otp/recovery.py). Beat checks the database every
    # sweep interval and sends the sweep only when it would find something (and once a minute
    # regardless), so Flower shows deliveries rather than empty sweeps. A sweep nobody ran in time
    # is dropped instead of piling up behind a stopped worker.
    "recover-undelivered-codes": {
        "task": "workers.tasks.recover_undelivered_codes",
        "schedule": WhenOwed(settings.OTP_RECOVERY_SWEEP_SECONDS, check="otp.recovery.anything_lost", idle_every=60.0),
        "options": {"expires": settings.OTP_RECOVERY_SWEEP_SECONDS},
    },
}
if settings.SNS_SMS_DELIVERY_LOG_GROUPS:  # nothing to read otherwise: no empty task every 30 s
    beat_schedule["read-sns-sms-receipts"] = {
        "task": "workers.tasks.read_sns_sms_receipts",
        "schedule": settings.MESSAGING_RECEIPT_SWEEP_SECONDS,
    }
