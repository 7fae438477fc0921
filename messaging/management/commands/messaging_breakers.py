"""`python manage.py messaging_breakers [--reset NAME] [--tenants]`: every provider's circuit breaker
(and with --tenants the tenants' own breakers that are not closed)."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from messaging import registry
from messaging.breaker import BreakerSnapshot, all_breakers, reset_breaker
from messaging.tenancy.breakers import tenant_breaker_names, troubled_tenant_breakers

COLUMNS = ("provider", "state", "failures", "successes", "opened_at", "next_attempt_at", "store", "last_error")


def row(snapshot: BreakerSnapshot) -> tuple[str, ...]:
    def when(moment: Any) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"

    return (
        snapshot.provider,
        snapshot.state,
        str(snapshot.failure_count),
        str(snapshot.success_count),
        when(snapshot.opened_at),
        when(snapshot.next_attempt_at),
        snapshot.store,
        snapshot.last_error[:80] or "-",
    )


class Command(BaseCommand):
    help = "Show every provider's circuit breaker; --reset NAME closes one."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--reset", metavar="NAME", help=f"provider to reset, one of: {', '.join(registry.names())}")
        parser.add_argument(
            "--tenants", action="store_true", help="also tenants' own breakers that are not closed (provider@tenant#id)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options.get("reset")
        if name:
            known = tenant_breaker_names() if "@" in name else registry.names()  # provider@tenant#id: a tenant's
            if name not in known:
                raise CommandError(f"unknown provider {name!r}; known: {', '.join(registry.names())}")
            reset_breaker(name)
            self.stdout.write(self.style.SUCCESS(f"reset {name}: closed, no failures"))
        snapshots = all_breakers() + (troubled_tenant_breakers() if options.get("tenants") else [])
        rows = [COLUMNS, *(row(s) for s in snapshots)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        for line in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if snapshots and not snapshots[0].shared_store_available:
            self.stdout.write(self.style.WARNING("Redis is unreachable: showing this process's local breakers."))
