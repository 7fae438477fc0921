"""Platform staff set each tenant's monthly cap; the list shows this month's use and warns at 80 %."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from messaging import budgets
from messaging.budget_models import TenantBudget, TenantSpend


def show_budget_banners(request: HttpRequest, uses: list[budgets.Usage]) -> None:
    """The 80 % notice as a banner on the next page rendered, one line per tenant at or past it
    (`uses` fullest first, as budgets.usage gives them). The tenant console shows its own tenant's."""
    for use in uses:
        if not use.past_warning:
            break
        spent_all = use.ratio >= 1
        messages.add_message(
            request, messages.ERROR if spent_all else messages.WARNING,
            f"Tenant {use.tenant} has spent {use.spent_usd:.2f} of its {use.cap_usd} USD monthly cap "
            f"({use.ratio:.0%})" + ("; its new sends are refused." if spent_all else "."),
        )  # fmt: skip


@admin.register(TenantBudget)
class TenantBudgetAdmin(admin.ModelAdmin):
    list_display = ("tenant", "monthly_cap_usd", "at_cap", "spent_this_month", "used", "updated_at")
    list_filter = ("at_cap",)
    search_fields = ("tenant",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[TenantBudget]:
        month = budgets.month_of(timezone.now())
        spent = TenantSpend.objects.filter(tenant=OuterRef("tenant"), month=month).values("spent_usd")[:1]
        return super().get_queryset(request).annotate(spent=Subquery(spent))

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """The 80 % notice as a banner, one line per tenant at or past it."""
        show_budget_banners(request, budgets.usage(now=timezone.now()))
        return super().changelist_view(request, extra_context)

    @admin.display(description="spent this month (USD)")
    def spent_this_month(self, budget: TenantBudget) -> str:
        spent = getattr(budget, "spent", None)
        return f"{spent:.2f}" if spent is not None else "0.00"

    @admin.display(description="used")
    def used(self, budget: TenantBudget) -> str:
        spent, cap = getattr(budget, "spent", None) or 0, budget.monthly_cap_usd
        return f"{spent / cap:.0%}" if cap else "no cap"
