from __future__ import annotations

from django.apps import AppConfig


class TemplatingConfig(AppConfig):
    name = "messaging.templating"
    label = "templating"
    verbose_name = "Message templates"
