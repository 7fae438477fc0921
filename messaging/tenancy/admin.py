"""Platform staff set a tenant's chains and credentials. Secrets are write-only: a form never holds
one (a blank secret keeps the stored one), and pages show only each secret's last 4 characters."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from messaging import registry
from messaging.tenancy.models import ProviderCredential, TenantChain, fields_of, tenant_providers
from otpsite.secretbox import InvalidToken, SecretBoxUnavailable

SHOWN_CHARACTERS = 4


def last_characters(value: str) -> str:
    """What a page may show of a secret: "…" and its last 4 characters (nothing of a short one)."""
    if not value:
        return "(empty)"
    return f"…{value[-SHOWN_CHARACTERS:]}" if len(value) > 2 * SHOWN_CHARACTERS else "…"


def all_credential_fields() -> list[str]:
    names: list[str] = []
    for name in tenant_providers():
        names += [field for field in fields_of(name) if field not in names]
    return names


def is_secret(field: str) -> bool:
    return any(field in found.secret_fields for found in registry.entries().values())


class ProviderCredentialForm(forms.ModelForm):
    """The tenant, the provider and one box per setting a provider's credential may hold."""

    class Meta:
        model = ProviderCredential
        fields = ("tenant", "provider")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"] = forms.ChoiceField(choices=[(name, name) for name in tenant_providers()])
        current = self._current_values()
        for name in all_credential_fields():
            if is_secret(name):
                shown = last_characters(current.get(name, "")) if self.instance.pk else ""
                self.fields[name] = forms.CharField(
                    required=False,
                    strip=True,
                    widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
                    help_text=f"Stored: {shown}. Leave blank to keep it." if shown else "Write-only.",
                )
            else:
                self.fields[name] = forms.CharField(required=False, strip=True, initial=current.get(name, ""))

    def _current_values(self) -> dict[str, str]:
        if not self.instance.pk:
            return {}
        try:
            return self.instance.values()
        except (InvalidToken, SecretBoxUnavailable):
            return {}

    @sensitive_variables("data")
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider = str(data.get("provider") or "")
        own = fields_of(provider)
        errors = {name: "Not a setting of this provider." for name in all_credential_fields()
                  if name not in own and data.get(name)}  # fmt: skip
        if "SMTP_PORT" in own and data.get("SMTP_PORT") and not str(data["SMTP_PORT"]).isdigit():
            errors["SMTP_PORT"] = "A port number."
        if errors:
            raise forms.ValidationError(errors)
        return data

    @sensitive_variables("values", "entered")
    def save(self, commit: bool = True) -> ProviderCredential:
        credential: ProviderCredential = super().save(commit=False)
        values = self._current_values()
        for name in fields_of(credential.provider):
            entered = str(self.cleaned_data.get(name) or "")
            if entered or not is_secret(name):
                values[name] = entered
        credential.set_values(values)
        if commit:
            credential.save()
        return credential


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(admin.ModelAdmin):
    form = ProviderCredentialForm
    list_display = ("tenant", "provider", "stored_secrets", "version", "updated_at")
    list_filter = ("provider",)
    search_fields = ("tenant",)
    readonly_fields = ("version", "updated_at")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["tenant", "provider", *all_credential_fields(), "version", "updated_at"]

    @method_decorator(sensitive_post_parameters())  # error reports never show what was typed
    def changeform_view(self, *args: Any, **kwargs: Any) -> Any:
        return super().changeform_view(*args, **kwargs)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        # The model's own fields shown (the tenant console hides the tenant); the form adds one box
        # per credential setting itself.
        shown = [name for name in ("tenant", "provider") if name in self.get_fields(request, obj)]
        return super().get_form(request, obj, change, **{**kwargs, "fields": shown})

    @admin.display(description="secrets (last 4 characters)")
    def stored_secrets(self, obj: ProviderCredential) -> str:
        entry = registry.entry(obj.provider)
        try:
            values = obj.values()
        except (InvalidToken, SecretBoxUnavailable):
            return "cannot be opened with the configured keys"
        names = entry.secret_fields if entry else ()
        return ", ".join(f"{name} {last_characters(values.get(name, ''))}" for name in names)


@admin.register(TenantChain)
class TenantChainAdmin(admin.ModelAdmin):
    list_display = ("tenant", "channel", "providers", "updated_at")
    list_filter = ("channel",)
    search_fields = ("tenant",)
