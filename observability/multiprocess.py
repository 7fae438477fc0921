"""Bookkeeping of prometheus_client's multiprocess directory, for gunicorn and the Celery worker.

Each process group (the gunicorn master and its workers; a Celery worker and its pool children)
gets its own PROMETHEUS_MULTIPROC_DIR, emptied when the group starts, so counters of an earlier
run are not added to this one's and two containers' pids never share a file. Each node's /metrics
merges its own group's directory only (observability.scrape): no disk is shared between nodes.
No Django import here: gunicorn's config loads it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def multiproc_dir() -> str:
    # prometheus_client itself reads this variable; the settings module documents it.
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def reset_multiproc_dir() -> None:
    """Empty (or create) this group's directory; a no-op when multiprocess mode is off."""
    directory = multiproc_dir()
    if not directory:
        return
    path = Path(directory)
    if path.is_dir():
        for entry in path.iterdir():
            if entry.is_dir():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    path.mkdir(parents=True, exist_ok=True)


def mark_dead(pid: int) -> None:
    """Drop a finished process's live gauges (its counters stay: they still count)."""
    if multiproc_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
