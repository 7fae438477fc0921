"""Celery signal receivers: a clean metrics directory per worker start, dead children marked, the
worker's own /metrics endpoint, finished tasks counted, and with LOG_FORMAT=json the worker keeps Django's logging
configuration instead of Celery's."""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery.signals import (
    setup_logging,
    task_postrun,
    worker_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from django.conf import settings

from messaging.metrics import task_finished
from observability.multiprocess import mark_dead, reset_multiproc_dir
from observability.worker_endpoint import start_worker_metrics, stop_worker_metrics


@worker_init.connect
def reset_metrics_on_worker_start(**_: Any) -> None:
    reset_multiproc_dir()


@worker_ready.connect
def serve_worker_metrics(**_: Any) -> None:
    start_worker_metrics()


@worker_shutdown.connect
def stop_serving_worker_metrics(**_: Any) -> None:
    stop_worker_metrics()


@task_postrun.connect
def count_finished_task(sender: Any = None, state: str | None = None, **_: Any) -> None:
    task_finished(getattr(sender, "name", "unknown"), state or "")


@worker_process_shutdown.connect
def mark_pool_child_dead(**_: Any) -> None:
    mark_dead(os.getpid())


if settings.LOG_FORMAT == "json":

    @setup_logging.connect
    def keep_django_logging(**_: Any) -> None:
        """A receiver here stops Celery replacing the root handlers: one JSON object per line."""
        logging.config.dictConfig(settings.LOGGING)
