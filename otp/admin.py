"""Codes are visible for support, never their hash or anything derived from the code."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, path
from django.utils import timezone

from messaging.admin import ReadOnlyAdminMixin
from otp.models import OneTimeCode
from otp.pumping_admin import URL_NAME, blocks_view


@admin.register(OneTimeCode)
class OneTimeCodeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Five columns fit a laptop screen; tenant, channel and the times are filters and on the detail page.
    list_display = ("created_at", "recipient", "purpose", "state", "attempts")
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

    def get_urls(self) -> list[URLPattern]:
        # The SMS pumping guard's blocks live in Redis, not in a model: a page beside the codes.
        blocks = path("pumping-blocks/", self.admin_site.admin_view(blocks_view), name=URL_NAME)
        return [blocks, *super().get_urls()]

    @admin.display(description="state")
    def state(self, otp: OneTimeCode) -> str:
        if otp.used_at:
            return "used"
        if otp.invalidated_at:
            return "replaced"
        return "expired" if otp.expires_at <= timezone.now() else "live"
