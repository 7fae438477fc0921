"""What a tenant's staff see at /console/: the platform's admins of their rows, scoped to their tenant.

Each class here is the platform admin of the same model (same columns, filters and pages) with
`TenantScopedMixin` in front (web/console/scoping.py). Registering another model is one line, e.g.
`console_site.register(TenantChain, scoped(TenantChainAdmin, tenant_field="tenant"))` (providers_admin.py).
"""

from __future__ import annotations

import csv
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.text import Truncator

from accounts.models import ApiKey
from messaging.admin import CommunicationLogAdmin, DeliveryAttemptInline, DeliveryReceiptInline
from messaging.models import CommunicationLog, DeliveryAttempt
from messaging.pricing import with_currency
from messaging.templating.admin import MessageTemplateAdmin
from messaging.templating.models import MessageTemplate
from notifications.admin import CallbackAttemptInline, CallbackDeliveryAdmin, CallbackEndpointAdmin, MessageAdmin
from notifications.models import CallbackDelivery, CallbackEndpoint, Message
from otpsite.redaction import redact_credentials
from web.console import providers_admin  # noqa: F401  (registers credentials, chains and the budget)
from web.console.budget import warn_of_budget
from web.console.keys_admin import ConsoleApiKeyAdmin
from web.console.scoping import MemberInlineMixin, TenantScopedMixin
from web.console.site import console_site

CSV_COLUMNS = ("created_at", "message_id", "channel", "recipient", "status", "provider_used", "cost")


def without_credentials(text: str) -> str:
    """A provider's error text as a tenant reads it: credential values and credential-shaped parts redacted."""
    return redact_credentials(text) or "-"


def error_text_instead(fields: Any) -> tuple[str, ...]:
    return tuple("error_text" if name in ("error", "error_message") else name for name in fields)


class ConsoleAttemptInline(MemberInlineMixin, DeliveryAttemptInline):
    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return error_text_instead(super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return error_text_instead(super().get_readonly_fields(request, obj))

    @admin.display(description="error")
    def error_text(self, attempt: DeliveryAttempt) -> str:
        return without_credentials(attempt.error)


class ConsoleReceiptInline(MemberInlineMixin, DeliveryReceiptInline):
    pass


class ConsoleLogAdmin(TenantScopedMixin, CommunicationLogAdmin):
    """Every message sent for the tenant (one-time codes and API messages), its attempts, receipts and cost."""

    tenant_field = "tenant_id"
    inlines = [ConsoleAttemptInline, ConsoleReceiptInline]
    change_list_template = "console/messages_change_list.html"
    actions = ["export_csv"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return error_text_instead(super().get_fields(request, obj))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return error_text_instead(super().get_readonly_fields(request, obj))

    @admin.display(description="error")
    def error_text(self, log: CommunicationLog) -> str:
        return without_credentials(log.error_message)

    @admin.display(description="error")
    def short_error(self, log: CommunicationLog) -> str:
        return Truncator(without_credentials(log.error_message)).chars(60)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        month = self.get_queryset(request).filter(created_at__gte=start)
        totals = month.aggregate(n=Count("pk", distinct=True), cost=Sum("cost"))
        month_cost = with_currency(totals["cost"] or Decimal(0))
        context = {"month_start": start, "month_count": totals["n"], "month_cost": month_cost}
        warn_of_budget(request)
        return super().changelist_view(request, {**context, **(extra_context or {})})

    @admin.action(description="Export the selected messages as CSV")
    def export_csv(self, request: HttpRequest, queryset: QuerySet[CommunicationLog]) -> HttpResponse:
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="messages.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for row in queryset.order_by("-created_at").values_list(*CSV_COLUMNS):
            writer.writerow(row)
        return response


class ConsoleMessageAdmin(TenantScopedMixin, MessageAdmin):
    """The messages the tenant's backend asked for through the API, with what they cost."""

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        return ("created_at", "channel", "recipient", "reference", "template", "status", "cost")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("log", "resend_log")

    @admin.display(description="status")
    def status(self, message: Message) -> str:
        return message.current_log.get_status_display()

    @admin.display(description="cost")
    def cost(self, message: Message) -> str:
        """The first send's and the resend's, when there was one: the tenant pays both."""
        costs = [log.cost for log in (message.log, message.resend_log) if log is not None and log.cost is not None]
        return with_currency(sum(costs, Decimal(0))) if costs else "-"


class ConsoleEndpointAdmin(TenantScopedMixin, CallbackEndpointAdmin):
    """The tenant's webhook endpoints: members who may write switch them on and off."""

    tenant_may = frozenset({"change"})
    ordering = ("-created_at",)


class ConsoleCallbackAttemptInline(MemberInlineMixin, CallbackAttemptInline):
    pass


class ConsoleDeliveryAdmin(TenantScopedMixin, CallbackDeliveryAdmin):
    tenant_field = "endpoint__tenant"
    inlines = [ConsoleCallbackAttemptInline]
    actions: list[Any] = []  # replays stay with platform staff


class ConsoleTemplateAdmin(TenantScopedMixin, MessageTemplateAdmin):
    """The tenant's own templates (not the built-ins): each save adds a version, as for operators."""

    tenant_may = frozenset({"add", "change"})
    exclude = ("tenant",)


console_site.register(CommunicationLog, ConsoleLogAdmin)
console_site.register(Message, ConsoleMessageAdmin)
console_site.register(CallbackEndpoint, ConsoleEndpointAdmin)
console_site.register(CallbackDelivery, ConsoleDeliveryAdmin)
console_site.register(MessageTemplate, ConsoleTemplateAdmin)
console_site.register(ApiKey, ConsoleApiKeyAdmin)
