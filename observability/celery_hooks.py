"""Celery signal receivers: a clean metrics directory per worker start, dead children marked,
and with LOG_FORMAT=json the worker keeps Django's logging configuration instead of Celery's."""

from __future__ import annotations

import logging.config
import os
from typing import Any

from celery.signals import setup_logging, worker_init, worker_process_shutdown
from django.conf import settings

from observability.multiprocess import mark_dead, reset_multiproc_dir


@worker_init.connect
def reset_metrics_on_worker_start(**_: Any) -> None:
    reset_multiproc_dir()


@worker_process_shutdown.connect
def mark_pool_child_dead(**_: Any) -> None:
    mark_dead(os.getpid())


if settings.LOG_FORMAT == "json":

    @setup_logging.connect
    def keep_django_logging(**_: Any) -> None:
        """A receiver here stops Celery replacing the root handlers: one JSON object per line."""
        logging.config.dictConfig(settings.LOGGING)
