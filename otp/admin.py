"""Codes are visible for support, never their hash or anything derived from the code."""

from __future__ import annotations

from django.contrib import admin

from messaging.admin import ReadOnlyAdminMixin
from otp.models import OneTimeCode


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "created_at",
        "tenant_id",
        "channel",
        "recipient",
        "purpose",
        "expires_at",
        "attempts",
        "used_at",
        "invalidated_at",
    )
    list_filter = ("channel", "purpose", "tenant_id", "created_at")
    search_fields = ("recipient", "=id")
    date_hierarchy = "created_at"
    fields = (
        "id",
        "tenant_id",
        "channel",
        "recipient",
        "purpose",
        "created_at",
        "expires_at",
        "attempts",
        "used_at",
        "invalidated_at",
        "resent_at",
        "resend_reason",
        "log",
    )
    readonly_fields = fields
