from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Tenants and API keys"

    def ready(self) -> None:
        from accounts import schema  # noqa: F401  (registers the API key scheme with drf-spectacular)
