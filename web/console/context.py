"""The console's address for every page's template (a context processor, named in settings):
the otp layer's pages link to it without importing accounts or web."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest
from django.urls import reverse

from web.console.scoping import member


def console_link(request: HttpRequest) -> dict[str, Callable[[], object]]:
    """`console_url` and `is_tenant_member`: callables, which a template calls only where it uses them."""
    return {"console_url": lambda: reverse("console:index"), "is_tenant_member": lambda: member(request) is not None}
