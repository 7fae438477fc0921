#!/usr/bin/env python
from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def read_make_run_env() -> None:
    """While `make run` runs, its .run/env names its database and Redis: commands use them too.

    Variables already set in the environment win; so does a settings module other than the project's.
    """
    if os.environ.get("DJANGO_SETTINGS_MODULE", "otpsite.settings") != "otpsite.settings":
        return
    path = Path(os.environ.get("DEVSTACK_RUN_DIR", ROOT / ".run")) / "env"
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            os.environ.setdefault(name.strip(), " ".join(shlex.split(value)))


def main() -> None:
    read_make_run_env()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "otpsite.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings, so a missing variable is named here
    except ImproperlyConfigured as err:
        # Django would swallow this and fail later with "Models aren't loaded yet".
        sys.exit(f"Configuration error: {err} (see .env.example; `make run` sets DEBUG=1 for development)")
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
