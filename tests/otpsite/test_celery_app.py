"""Every process that loads the project publishes through the one configured Celery app
(otpsite.celery), whichever layer's task it publishes first: its routes and queues apply."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

FIRST_PUBLISHER = """
import django
django.setup()
from notifications.tasks import deliver_callback
print(deliver_callback.app.main, deliver_callback.app.amqp.router.route({}, deliver_callback.name)["queue"].name)
"""


def test_a_task_of_any_layer_takes_the_configured_app_and_its_route_in_a_fresh_process():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", FIRST_PUBLISHER], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["otpsvc", "callbacks"]
