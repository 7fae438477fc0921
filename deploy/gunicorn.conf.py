"""gunicorn settings for the web service: `gunicorn -c deploy/gunicorn.conf.py otpsite.wsgi:application`.

With PROMETHEUS_MULTIPROC_DIR set, the master empties that directory when it starts and marks
each worker that exits, so /metrics counts every worker of this run and no other.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from observability.multiprocess import mark_dead, reset_multiproc_dir

wsgi_app = "otpsite.wsgi:application"
# Sync workers: each serves one request at a time and holds one database connection (README,
# "Worker capacity", for the connection arithmetic). A send answers in a few ms of CPU, so 2 per
# core keeps both cores busy while one worker waits on PostgreSQL or Redis. Not os.cpu_count():
# in a container it counts the host's cores, and each worker is a database connection.
workers = int(os.environ.get("WEB_CONCURRENCY") or 4)
timeout = 30

# LOG_FORMAT=json (see otpsite/settings.py): gunicorn's own lines are JSON objects too.
if os.environ.get("LOG_FORMAT") == "json":
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "otpsite.logs.JsonLineFormatter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
            "gunicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
        },
    }


def on_starting(server: Any) -> None:
    reset_multiproc_dir()


def child_exit(server: Any, worker: Any) -> None:
    mark_dead(worker.pid)
