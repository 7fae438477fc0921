"""Operators see tenants, their members and their keys; a key's secret is never shown (only its prefix)."""

from __future__ import annotations

from django.contrib import admin

from accounts.models import ApiKey, Tenant, TenantMember


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ("prefix", "name", "kind", "created_at", "revoked_at")
    readonly_fields = ("prefix", "name", "kind", "created_at")
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # keys are made by `manage.py create_api_key`, which shows the secret once


class TenantMemberInline(admin.TabularInline):
    """Who may sign in to the tenant console (/console/) for this tenant, and with which role."""

    model = TenantMember
    extra = 0
    fields = ("user", "role", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("slug", "name", "owner", "created_at")
    search_fields = ("slug", "name", "owner__username")
    readonly_fields = ("created_at",)
    inlines = [TenantMemberInline, ApiKeyInline]
