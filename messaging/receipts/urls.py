"""The receipt webhooks of every registered provider (each provider's webhook.py holds its own)."""

from __future__ import annotations

from django.urls import include, path

from messaging import registry

urlpatterns = [path("", include(module)) for module in registry.webhook_modules()]
