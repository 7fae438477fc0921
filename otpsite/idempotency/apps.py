from __future__ import annotations

from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "otpsite.idempotency"
    label = "idempotency"
    verbose_name = "Idempotent requests"

    def ready(self) -> None:
        from otpsite.idempotency import tasks  # noqa: F401 (registers the purge task)
