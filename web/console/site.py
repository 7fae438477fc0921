"""The console's admin site: members of a tenant (accounts.TenantMember) only, signed in by code.

Signing in is the service's own sign-in page (/login/, a one-time code to the member's address):
the console's login URL sends an anonymous visitor there and back. A signed-in user who belongs
to no tenant gets a 403 page rather than a loop. Platform staff use /admin/, which shows everything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache

from web.console.budget import warn_of_budget
from web.console.scoping import member

# Names a tenant reads on the console's index, where two models are both called "messages".
INDEX_NAMES = {
    "notifications.message": "API messages",
    "accounts.apikey": "API keys",
    "messaging.providercredential": "Provider credentials",
    "messaging.tenantchain": "Provider chains",
    "messaging.tenantbudget": "Budget",
}


class ConsoleSite(admin.AdminSite):
    site_header = "Your messages"
    site_title = "Tenant console"
    index_title = "Your tenant"
    site_url = "/"
    # No admin "view on site" links, no password change: members sign in by code.
    enable_nav_sidebar = True
    final_catch_all_view = False

    def has_permission(self, request: HttpRequest) -> bool:
        return member(request) is not None

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        context = super().each_context(request)
        found = member(request)
        context["console_tenant"] = found.tenant if found else None
        context["console_role"] = found.get_role_display() if found else ""
        return context

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict[str, Any]]:
        apps = super().get_app_list(request, app_label)
        for app in apps:
            for model in app["models"]:
                model["name"] = INDEX_NAMES.get(f"{app['app_label']}.{model['object_name'].lower()}", model["name"])
        return apps

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        warn_of_budget(request)  # the 80 % banner, the member's tenant's
        return super().index(request, extra_context)

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        index = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return HttpResponseRedirect(index)
        if request.user.is_authenticated:
            context = {**self.each_context(request), "title": "No tenant"}
            return TemplateResponse(request, "console/not_a_member.html", context, status=403)
        target = request.GET.get(REDIRECT_FIELD_NAME) or index
        return HttpResponseRedirect(f"{reverse('login')}?{urlencode({REDIRECT_FIELD_NAME: target})}")


console_site = ConsoleSite(name="console")
