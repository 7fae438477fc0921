from __future__ import annotations

from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # An unknown provider name fails at start-up, naming the variable.
        from messaging import registry

        registry.validate_chains()
