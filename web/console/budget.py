"""The 80 % budget banner in the console: the member's own tenant's use only (messaging.budgets.usage)."""

from __future__ import annotations

from django.http import HttpRequest
from django.utils import timezone

from messaging import budgets
from messaging.budget_admin import show_budget_banners
from web.console.scoping import tenant_of_request


def warn_of_budget(request: HttpRequest) -> None:
    """Show the banner on the page being rendered (GETs only: a POST's redirect would carry it twice)."""
    tenant = tenant_of_request(request)
    if tenant is not None and request.method == "GET":
        show_budget_banners(request, budgets.usage(now=timezone.now(), tenant=tenant.slug))
