from __future__ import annotations

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # An unknown provider name fails at start-up, naming the variable; the tasks register with Celery.
        from messaging import budgets, registry, tasks  # noqa: F401
        from messaging.tenancy.cache import connect_signals

        connect_signals()  # a changed chain, credential or budget reaches the next send (messaging/tenancy/cache.py)

        registry.validate_chains()
        budgets.validate_cheaper_chains()
