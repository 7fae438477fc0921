from __future__ import annotations

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "web.console"
    label = "console"
    verbose_name = "Tenant console"
