"""Operators see tenant messages read-only; their log rows (attempts, receipts) are in messaging's admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from messaging.admin import ReadOnlyAdminMixin
from notifications.callbacks.dispatch import replay
from notifications.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint, Message


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "tenant", "channel", "recipient", "reference", "template", "locale", "segments")
    list_filter = ("channel", "tenant", "test", "created_at")
    search_fields = ("recipient", "reference", "=log__message_id")
    raw_id_fields = ("log", "resend_log", "api_key")
    readonly_fields = [f.name for f in Message._meta.fields]


class CallbackAttemptInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = CallbackAttempt
    extra = 0
    fields = ("attempted_at", "status_code", "error", "duration_ms", "retry_in_seconds")
    readonly_fields = fields
    can_delete = False


@admin.register(CallbackDelivery)
class CallbackDeliveryAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "endpoint", "event", "status", "attempts", "next_attempt_at", "succeeded_at")
    list_filter = ("status", "event")
    search_fields = ("=webhook_id", "endpoint__url", "endpoint__tenant__slug")
    readonly_fields = [f.name for f in CallbackDelivery._meta.fields]
    inlines = [CallbackAttemptInline]
    actions = ["replay_deliveries"]

    @admin.action(description="Replay the selected deliveries (same webhook-id and body)")
    def replay_deliveries(self, request: HttpRequest, queryset: QuerySet[CallbackDelivery]) -> None:
        from notifications.tasks import publish_callback

        for delivery in queryset:
            replay(delivery, publish=publish_callback)
        self.message_user(request, f"{queryset.count()} delivery(ies) queued again.", messages.SUCCESS)


@admin.register(CallbackEndpoint)
class CallbackEndpointAdmin(admin.ModelAdmin):
    list_display = ("url", "tenant", "enabled", "disabled_at", "disabled_reason", "created_at")
    list_filter = ("enabled", "tenant")
    search_fields = ("url", "tenant__slug")
    fields = ("tenant", "url", "events", "enabled", "disabled_at", "disabled_reason", "created_at")
    readonly_fields = ("tenant", "url", "events", "disabled_at", "disabled_reason", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # tenants register endpoints through the API, which hands them the secret

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        # The notice an operator sees: every endpoint that was given up on, and why.
        # Through get_queryset, so that the tenant console's subclass warns of its own endpoints only.
        for endpoint in self.get_queryset(request).filter(enabled=False, disabled_at__isnull=False):
            messages.warning(request, f"Disabled: {endpoint} ({endpoint.disabled_reason})")
        return super().changelist_view(request, extra_context)
