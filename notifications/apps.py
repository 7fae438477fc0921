from __future__ import annotations

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Tenant messages"

    def ready(self) -> None:
        # The tasks register with Celery on import; the handlers connect to messaging's events.
        from notifications import hooks, tasks  # noqa: F401

        hooks.connect()
