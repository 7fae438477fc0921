"""Operators see tenant messages read-only; their log rows (attempts, receipts) are in messaging's admin."""

from __future__ import annotations

from django.contrib import admin

from messaging.admin import ReadOnlyAdminMixin
from notifications.models import Message


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "tenant", "channel", "recipient", "reference", "template", "locale", "segments")
    list_filter = ("channel", "tenant", "test", "created_at")
    search_fields = ("recipient", "reference", "=log__message_id")
    raw_id_fields = ("log", "resend_log", "api_key")
    readonly_fields = [f.name for f in Message._meta.fields]
