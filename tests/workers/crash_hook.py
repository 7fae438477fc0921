"""Loaded into a test's worker (`celery worker -I tests.workers.crash_hook`): a worker that takes the
delivery of one recipient's code dies on the spot (os._exit), as long as a marker file exists.

It stands for a message that crashes every worker that runs it (a bug, a poisoned payload): the
process is gone before the task can ack or reject, so the broker gets the message back each time.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery.signals import task_prerun

RECIPIENT = os.environ.get("OTPSVC_TEST_CRASH_RECIPIENT", "")
MARKER = Path(os.environ.get("OTPSVC_TEST_CRASH_MARKER", "/nonexistent"))


@task_prerun.connect
def _crash_on_the_recipient(sender=None, args=None, **_):
    if sender is None or sender.name != "workers.tasks.deliver_otp" or not MARKER.exists():
        return
    from otp.models import OneTimeCode

    if OneTimeCode.objects.filter(pk=args[0], recipient=RECIPIENT).exists():
        os._exit(9)
