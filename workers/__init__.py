"""The worker process: `celery -A workers worker|beat|flower` (the app itself is otpsite.celery)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpsite.settings")

from otpsite.celery import app

__all__ = ["app"]
