"""Make an API key for a tenant and print it once; only its hash is stored."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.keys import create_api_key
from accounts.models import ApiKeyKind, Tenant


class Command(BaseCommand):
    help = "Create an API key for a tenant (made if missing with --create-tenant) and print it once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tenant", help="the tenant's slug")
        parser.add_argument("--name", default="", help="what the key is for")
        parser.add_argument("--create-tenant", metavar="NAME", help="create the tenant with this name if missing")
        parser.add_argument(
            "--test", action="store_true", help="a test key: messages go to a sink, never to a provider, at no cost"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        slug = options["tenant"]
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            if not options["create_tenant"]:
                raise CommandError(f"No tenant {slug!r}; pass --create-tenant NAME to make it.")
            tenant = Tenant.objects.create(slug=slug, name=options["create_tenant"])
        kind = ApiKeyKind.TEST if options["test"] else ApiKeyKind.LIVE
        api_key, key = create_api_key(tenant, name=options["name"], kind=kind)
        self.stderr.write(f"{kind} API key {api_key.prefix} for tenant {tenant.slug}; it is shown only this once:")
        self.stdout.write(key)
