from __future__ import annotations

from django.apps import AppConfig


class ObservabilityConfig(AppConfig):
    name = "observability"
    verbose_name = "Observability"

    def ready(self) -> None:
        # Celery signal receivers: they only act inside a worker, so connecting them anywhere is harmless.
        from django.contrib import admin

        from observability import celery_hooks  # noqa: F401

        admin.site.index_template = "observability/admin_index.html"
