from __future__ import annotations

from django.apps import AppConfig


class TemplatingConfig(AppConfig):
    name = "messaging.templating"
    label = "templating"
    verbose_name = "Message templates"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from messaging.templating.cache import templates_changed
        from messaging.templating.models import MessageTemplate

        # Every process drops its kept templates when one changes (messaging/templating/cache.py).
        post_save.connect(templates_changed, sender=MessageTemplate, dispatch_uid="templates-changed-save")
        post_delete.connect(templates_changed, sender=MessageTemplate, dispatch_uid="templates-changed-delete")
