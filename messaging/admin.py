"""Operators browse what happened to every message; nothing here can change it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from messaging.models import CommunicationLog, DeliveryAttempt, DeliveryReceipt
from messaging.pricing import with_currency


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class DeliveryAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ("created_at", "provider", "outcome", "error_code", "error", "duration_ms", "reason")
    readonly_fields = fields
    can_delete = False


class DeliveryReceiptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = DeliveryReceipt
    extra = 0
    fields = ("received_at", "provider", "event", "blame", "code", "reason", "occurred_at", "changed_status")
    readonly_fields = fields
    can_delete = False


@admin.register(CommunicationLog)
class CommunicationLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Six columns fit a laptop screen; purpose, sent and delivered times are filters and on the detail page.
    list_display = ("created_at", "channel", "recipient", "status", "provider_used", "cost_with_currency")
    list_filter = ("channel", "status", "provider_used", "purpose", "created_at")
    search_fields = ("recipient", "=message_id", "provider_message_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "message_id",
        "recipient",
        "channel",
        "purpose",
        "status",
        "provider_used",
        "provider_message_id",
        "cost_with_currency",
        "error_message",
        "metadata",
        "created_at",
        "claimed_at",
        "sent_at",
        "delivered_at",
    )
    fields = readonly_fields  # the raw cost field stays off the page: cost_with_currency shows it
    inlines = [DeliveryAttemptInline, DeliveryReceiptInline]

    @admin.display(description="cost", ordering="cost")
    def cost_with_currency(self, log: CommunicationLog) -> str:
        return with_currency(log.cost)
