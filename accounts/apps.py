from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Tenants and API keys"

    def ready(self) -> None:
        from accounts import checks, schema  # noqa: F401  (registers the start-up check and the API key scheme)
