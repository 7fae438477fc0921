"""The Celery app. Configuration lives in celeryconfig.py."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpsite.settings")

app = Celery("otpsvc")
app.config_from_object("celeryconfig")
app.autodiscover_tasks(["workers"])
