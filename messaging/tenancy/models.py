"""A tenant's own chains and provider credentials, keyed by the tenant's slug."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.views.decorators.debug import sensitive_variables

from messaging import registry
from messaging.models import Channel
from messaging.providers.base import Credential
from otpsite import secretbox
from otpsite.redaction import remember_secret


class TenantChain(models.Model):
    """The providers a tenant's messages of one channel walk, in order; none set: the platform's chain."""

    tenant = models.CharField(max_length=64, help_text="The tenant's slug.")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    providers = models.CharField(
        max_length=200, help_text="Provider names in priority order, comma-separated, e.g. twilio,sns."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "messaging"
        db_table = "messaging_tenant_chain"
        verbose_name = "tenant chain"
        constraints = [models.UniqueConstraint(fields=["tenant", "channel"], name="tenant_chain_once_per_channel")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.channel}: {self.providers}"

    def names(self) -> list[str]:
        return [name.strip() for name in self.providers.split(",") if name.strip()]

    def clean(self) -> None:
        """Refuse an empty chain, an unknown provider, one of the other channel, or a development-only one."""
        names = self.names()
        if not names:
            raise ValidationError({"providers": "Name at least one provider."})
        if len(set(names)) != len(names):
            raise ValidationError({"providers": "Name each provider once."})
        for name in names:
            found = registry.entry(name)
            if found is None or found.development_only:
                raise ValidationError({"providers": f"Unknown provider {name!r}; known: {sorted(tenant_providers())}."})
            if registry.provider_class(name).channel != self.channel:
                raise ValidationError({"providers": f"{name!r} does not send {self.channel}."})
        self.providers = ",".join(names)


class ProviderCredential(models.Model):
    """A tenant's own account at one provider. Its values are sealed (Fernet) in `sealed` and never
    leave this process in the clear: admin shows the last 4 characters of each secret."""

    tenant = models.CharField(max_length=64, help_text="The tenant's slug.")
    provider = models.CharField(max_length=32)
    # Fernet token of the JSON {setting name: value}; otpsite.secretbox seals and opens it.
    sealed = models.TextField(editable=False)
    # Bumped on every change of the values: SDK clients are cached per (provider, id, version).
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "messaging"
        db_table = "messaging_provider_credential"
        verbose_name = "tenant provider credential"
        constraints = [
            models.UniqueConstraint(fields=["tenant", "provider"], name="provider_credential_once_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.provider} credential"

    def __repr__(self) -> str:
        return f"<ProviderCredential {self.pk} {self.tenant} {self.provider} v{self.version}>"

    @sensitive_variables("stored")  # error reports never show a credential
    def values(self) -> dict[str, str]:
        """The opened values (every field the provider declares; "" where unset). Raises InvalidToken."""
        if not self.sealed:
            return {}
        stored: dict[str, Any] = json.loads(secretbox.open_box(self.sealed))
        entry = registry.entry(self.provider)
        for name in entry.secret_fields if entry else ():
            remember_secret(str(stored.get(name, "")))
        return {name: str(stored.get(name, "")) for name in fields_of(self.provider)}

    @sensitive_variables("values", "kept")
    def set_values(self, values: dict[str, str]) -> None:
        """Seal `values` (only the provider's fields) and bump the version."""
        kept = {name: str(values.get(name, "")) for name in fields_of(self.provider)}
        self.sealed = secretbox.seal(json.dumps(kept).encode())
        self.version = (self.version or 0) + 1 if self.pk else 1

    def opened(self) -> Credential:
        entry = registry.entry(self.provider)
        return Credential(
            id=int(self.pk),
            version=int(self.version),
            tenant=self.tenant,
            provider=self.provider,
            values=self.values(),
            fields=frozenset(fields_of(self.provider)),
            secret_names=frozenset(entry.secret_fields if entry else ()),
        )


def fields_of(provider: str) -> tuple[str, ...]:
    found = registry.entry(provider)
    return found.credential_fields if found else ()


def tenant_providers() -> list[str]:
    """Providers a tenant may name in a chain or bring credentials for (no development-only ones)."""
    return [name for name, found in registry.entries().items() if not found.development_only]
