"""Operators browse what happened to every message; nothing here can change it."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import localize
from django.utils.text import Truncator

from messaging import budget_admin  # noqa: F401  (registers the tenant budgets' admin)
from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, DeliveryReceipt, MessageStatus
from messaging.pricing import with_currency

FAILED_OUTCOMES = [AttemptOutcome.PROVIDER_FAULT, AttemptOutcome.RECIPIENT_FAULT]


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


class HasFailedAttemptsFilter(admin.SimpleListFilter):
    title = "failed attempts"
    parameter_name = "failed_attempts"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Has failed attempts"), ("no", "No failed attempts")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[CommunicationLog]) -> QuerySet[CommunicationLog]:
        failed = Exists(DeliveryAttempt.objects.filter(outcome__in=FAILED_OUTCOMES, log=OuterRef("pk")))
        if self.value() == "yes":
            return queryset.filter(failed)
        if self.value() == "no":
            return queryset.exclude(failed)
        return queryset


@admin.register(CommunicationLog)
class CommunicationLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    # Seven narrow columns fit a laptop screen; channel, purpose, sent and delivered times are filters
    # and on the detail page (the recipient shows the channel: an address or a number).
    list_display = (
        "created_at",
        "recipient",
        "state",
        "attempt_count",
        "provider",
        "short_error",
        "cost_with_currency",
    )
    list_filter = ("channel", "status", HasFailedAttemptsFilter, "provider_used", "purpose", "created_at")
    search_fields = ("recipient", "=message_id", "provider_message_id")
    date_hierarchy = "created_at"
    readonly_fields = (
        "message_id",
        "recipient",
        "channel",
        "purpose",
        "state",
        "provider_used",
        "provider_message_id",
        "cost_with_currency",
        "error_message",
        "metadata",
        "created_at",
        "claim",
        "sent_at",
        "delivered_at",
    )
    fields = readonly_fields  # the raw cost field stays off the page: cost_with_currency shows it
    inlines = [DeliveryAttemptInline, DeliveryReceiptInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[CommunicationLog]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_attempts=Count("attempts"),
                n_failed=Count("attempts", filter=Q(attempts__outcome__in=FAILED_OUTCOMES)),
            )
        )

    @admin.display(description="cost", ordering="cost")
    def cost_with_currency(self, log: CommunicationLog) -> str:
        return with_currency(log.cost)

    @admin.display(description="status", ordering="status")
    def state(self, log: CommunicationLog) -> str:
        """A queued message whose providers all failed is retrying, not waiting its first turn."""
        if log.status == MessageStatus.QUEUED and log.error_message:
            return "Failing, will retry"
        failed: int = getattr(log, "n_failed", 0)
        if log.status == MessageStatus.SENT and failed:
            return "Sent after failures"
        return log.get_status_display()

    @admin.display(description="attempts", ordering="n_attempts")
    def attempt_count(self, log: CommunicationLog) -> str:
        failed = getattr(log, "n_failed", 0)
        return f"{log.n_attempts} ({failed} failed)" if failed else str(log.n_attempts)  # type: ignore[attr-defined]

    @admin.display(description="provider", ordering="provider_used")
    def provider(self, log: CommunicationLog) -> str:
        return log.provider_used or "-"

    @admin.display(description="error")
    def short_error(self, log: CommunicationLog) -> str:
        return Truncator(log.error_message).chars(60) or "-"

    @admin.display(description="claimed at")
    def claim(self, log: CommunicationLog) -> str:
        """claimed_at means two things: a worker's claim while sending, the next retry's time while queued."""
        if log.claimed_at is None:
            return "-"
        moment = localize(timezone.localtime(log.claimed_at))
        if log.status == MessageStatus.QUEUED:
            verb = "next delivery due" if log.claimed_at > timezone.now() else "delivery published again"
            return f"{verb} at {moment}"
        return f"claimed by a worker at {moment}"


# A tenant's chains and credentials (platform staff only): messaging/tenancy/admin.py.
from messaging.tenancy import admin as tenancy_admin  # noqa: E402, F401
