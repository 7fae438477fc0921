#!/usr/bin/env python
from __future__ import annotations

import os
import sys


def main() -> None:
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
