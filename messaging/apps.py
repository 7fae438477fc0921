from __future__ import annotations

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # An unknown provider name fails at start-up, naming the variable; the tasks register with Celery.
        from messaging import budgets, registry, tasks  # noqa: F401

        registry.validate_chains()
        budgets.validate_cheaper_chains()
