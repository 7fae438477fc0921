"""A tenant's API keys in the console: made there (the key shown once, on the page that follows),
revoked there, never shown again (only the prefix)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from accounts.keys import issue_key
from accounts.models import ApiKey
from web.console.scoping import TenantScopedMixin

NEW_KEY_FIELDS = ("name", "kind")
KEY_FIELDS = ("name", "prefix", "kind", "created_at", "revoked_at")


class ConsoleApiKeyAdmin(TenantScopedMixin, admin.ModelAdmin):
    tenant_may = frozenset({"add", "change"})  # no delete: messages keep naming the key they came with
    list_display = ("prefix", "name", "kind", "created_at", "revoked_at")
    ordering = ("-created_at",)
    list_filter = ("kind", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "prefix")
    actions = ["revoke_keys"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return NEW_KEY_FIELDS if obj is None else KEY_FIELDS

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else ("prefix", "kind", "created_at", "revoked_at")

    def save_model(self, request: HttpRequest, obj: ApiKey, form: Any, change: bool) -> None:
        if not change:
            request._console_new_key = issue_key(obj)  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None) -> HttpResponse:
        """The key, once: on this page only (not in a flash message, which the session would keep)."""
        context = {
            **self.admin_site.each_context(request),
            "title": "Your new API key",
            "api_key": obj,
            "key": request._console_new_key,  # type: ignore[attr-defined]
            "changelist_url": reverse("admin:accounts_apikey_changelist", current_app=self.admin_site.name),
        }
        return TemplateResponse(request, "console/api_key_created.html", context)

    @admin.action(description="Revoke the selected keys", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"{revoked} key(s) revoked: they are refused from now on.", messages.SUCCESS)
