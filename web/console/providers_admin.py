"""A tenant's own provider credentials and chains, and its budget, in the console.

Credentials and chains are the platform's admins of them, scoped (web/console/scoping.py): the
tenant is the member's, never a choice; owners and admins add, change and delete, viewers read.
Secrets stay write-only as in /admin/ (ProviderCredentialForm: a blank box keeps the stored value,
pages show the last 4 characters). The budget is read-only: platform staff set the cap.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from messaging.budget_admin import TenantBudgetAdmin
from messaging.budget_models import TenantBudget
from messaging.tenancy.admin import ProviderCredentialAdmin, TenantChainAdmin
from messaging.tenancy.models import ProviderCredential, TenantChain
from web.console.budget import warn_of_budget
from web.console.scoping import TenantScopedMixin, scoped
from web.console.site import console_site

WRITERS_MAY = frozenset({"add", "change", "delete"})


class ConsoleBudgetAdmin(TenantScopedMixin, TenantBudgetAdmin):
    """The tenant's cap and this month's spend, read-only (no `tenant_may`): the platform sets the cap."""

    change_list_template = "console/budget_change_list.html"

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        warn_of_budget(request)  # not the platform admin's banners, which name every tenant
        return super(TenantBudgetAdmin, self).changelist_view(request, extra_context)


console_site.register(ProviderCredential, scoped(ProviderCredentialAdmin, tenant_field="tenant", may=WRITERS_MAY))
console_site.register(TenantChain, scoped(TenantChainAdmin, tenant_field="tenant", may=WRITERS_MAY))
console_site.register(TenantBudget, ConsoleBudgetAdmin)
