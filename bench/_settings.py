"""Bench-only Django settings: the service's settings, with the baseline view added to the URLconf.

The environment (database, Redis dbs, raised send limits) is set by bench/_support.py before
this module is imported, by the bench script and by every process it starts.
"""

from __future__ import annotations

from otpsite.settings import *  # noqa: F403

ROOT_URLCONF = "bench._baseline"
# DEBUG=1 in the environment only lets the settings accept the console SMS provider, which the
# bench delivers through (to a file); the bench itself runs with DEBUG off, as production does.
DEBUG = False
