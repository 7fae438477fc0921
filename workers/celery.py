"""The Celery app. Configuration lives in celeryconfig.py."""

from __future__ import annotations

import os

from workers.quorum import DeclareDeadLetterQueue, QuorumCelery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpsite.settings")

app = QuorumCelery("otpsvc")
app.config_from_object("celeryconfig")
app.steps["consumer"].add(DeclareDeadLetterQueue)
app.autodiscover_tasks(["workers"])
