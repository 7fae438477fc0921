"""The Celery app (configuration in celeryconfig.py): plumbing every layer's tasks publish through.

otpsite/__init__.py imports it, so it is the current app in every process that loads the project:
Django's web process too, where `.delay()` of a shared task publishes through it, with its routes.
`celery -A workers` finds it through the workers package (which names the settings module); each
layer's tasks register in its AppConfig.ready, and the worker's own (workers/tasks.py) are found here.
"""

from __future__ import annotations

from typing import Any

from celery.signals import worker_init, worker_process_init, worker_process_shutdown, worker_shutdown

from otpsite import liveness
from otpsite.quorum import DeclareDeadLetterQueue, QuorumCelery

app = QuorumCelery("otpsvc")
app.config_from_object("celeryconfig")
app.steps["consumer"].add(DeclareDeadLetterQueue)
app.autodiscover_tasks(["workers"])


# Each process that runs tasks announces itself (otpsite/liveness.py) before it takes one: the
# threads pool's one process at worker_init, each prefork child at worker_process_init.
@worker_init.connect
@worker_process_init.connect
def announce_worker_process(**_: Any) -> None:
    liveness.start()


@worker_shutdown.connect
@worker_process_shutdown.connect
def withdraw_worker_process(**_: Any) -> None:
    liveness.stop()
