"""The Celery app (configuration in celeryconfig.py): plumbing every layer's tasks publish through.

otpsite/__init__.py imports it, so it is the current app in every process that loads the project:
Django's web process too, where `.delay()` of a shared task publishes through it, with its routes.
`celery -A workers` finds it through the workers package (which names the settings module); each
layer's tasks register in its AppConfig.ready, and the worker's own (workers/tasks.py) are found here.
"""

from __future__ import annotations

from otpsite.quorum import DeclareDeadLetterQueue, QuorumCelery

app = QuorumCelery("otpsvc")
app.config_from_object("celeryconfig")
app.steps["consumer"].add(DeclareDeadLetterQueue)
app.autodiscover_tasks(["workers"])
