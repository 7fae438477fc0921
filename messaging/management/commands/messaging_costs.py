"""Messages and their cost per month, channel and provider; and what a volume would cost.

    manage.py messaging_costs [--month 2025-10] [--tenant acme | --by-tenant]
    manage.py messaging_costs --scenario 20000 20000 [--email-chain ses,sendgrid,smtp] [--sms-chain twilio]

--tenant keeps one tenant's messages (CommunicationLog.tenant_id); --by-tenant breaks
the report down by tenant, with each tenant's total against its monthly cap (messaging.budgets).
The scenario rule (which provider takes which messages) is documented in messaging.pricing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncMonth

from messaging import registry
from messaging.budget_models import TenantBudget
from messaging.models import Channel, CommunicationLog
from messaging.pricing import CENT, ScenarioPrice, month_bounds, price_scenario


def money(amount: Decimal) -> str:
    return f"${amount.quantize(CENT, rounding=ROUND_HALF_UP)}"


def parse_chain(value: str, channel: Channel) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    for name in names:
        if name not in registry.entries() or registry.provider_class(name).channel != channel:
            raise CommandError(f"{name!r} is not a {channel} provider; known: {sorted(registry.entries())}")
    return names


class Command(BaseCommand):
    help = "Messages and cost per month, channel and provider from the logs; --scenario prices a volume."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="only this UTC month, as YYYY-MM")
        parser.add_argument("--tenant", help="only this tenant's messages (its id)")
        parser.add_argument("--by-tenant", action="store_true", help="one block per tenant, against its cap")
        parser.add_argument("--scenario", nargs=2, type=int, metavar=("EMAILS", "SMS"), help="a month's volume")
        parser.add_argument("--email-chain", help="comma-separated email providers to price as well")
        parser.add_argument("--sms-chain", help="comma-separated SMS providers to price as well")
        parser.add_argument("--days", type=int, default=30, help="days in the scenario month (daily quotas)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["scenario"]:
            self.print_scenario(*options["scenario"], options=options)
        else:
            self.print_usage(options["month"], tenant=options["tenant"], by_tenant=options["by_tenant"])

    def print_usage(self, month: str | None, *, tenant: str | None = None, by_tenant: bool = False) -> None:
        sent = CommunicationLog.objects.filter(sent_at__isnull=False).exclude(provider_used="")
        if tenant is not None:
            sent = sent.filter(tenant_id=tenant)
        if month:
            try:
                start, end = month_bounds(datetime.strptime(month, "%Y-%m").replace(tzinfo=UTC))
            except ValueError as err:
                raise CommandError(f"--month must look like 2025-10, not {month!r}") from err
            sent = sent.filter(sent_at__gte=start, sent_at__lt=end)
        if by_tenant or tenant is not None:
            self.print_tenants(sent)
            return
        rows = (
            sent.annotate(month=TruncMonth("sent_at", tzinfo=UTC))
            .values("month", "channel", "provider_used")
            .annotate(messages=Count("id"), cost=Sum("cost"))
            .order_by("month", "channel", "provider_used")
        )
        self.stdout.write(f"{'month':<8} {'channel':<8} {'provider':<10} {'messages':>10} {'cost':>12}")
        for row in rows:
            cost = row["cost"] or Decimal("0")
            self.stdout.write(
                f"{row['month']:%Y-%m} {row['channel']:<8} {row['provider_used']:<10} "
                f"{row['messages']:>10,} {money(cost):>12}"
            )

    def print_tenants(self, sent: QuerySet[CommunicationLog]) -> None:
        rows = (
            sent.annotate(month=TruncMonth("sent_at", tzinfo=UTC), tenant=F("tenant_id"))
            .values("month", "tenant", "channel", "provider_used")
            .annotate(messages=Count("id"), cost=Sum("cost"))
            .order_by("month", "tenant", "channel", "provider_used")
        )
        caps = dict(TenantBudget.objects.filter(monthly_cap_usd__isnull=False).values_list("tenant", "monthly_cap_usd"))
        self.stdout.write(f"{'month':<8} {'tenant':<16} {'channel':<8} {'provider':<10} {'messages':>10} {'cost':>12}")
        block: tuple[Any, str] | None = None
        total, count = Decimal("0"), 0
        for row in [*rows, None]:
            key = None if row is None else (row["month"], row["tenant"] or "-")
            if block is not None and key != block:
                self.stdout.write(self.tenant_total(block, count, total, caps.get(block[1])))
                total, count = Decimal("0"), 0
            if row is None or key is None:
                break
            block, cost = key, row["cost"] or Decimal("0")
            total, count = total + cost, count + row["messages"]
            self.stdout.write(
                f"{row['month']:%Y-%m}  {key[1]:<16} {row['channel']:<8} {row['provider_used']:<10} "
                f"{row['messages']:>10,} {money(cost):>12}"
            )

    def tenant_total(self, block: tuple[Any, str], count: int, total: Decimal, cap: Decimal | None) -> str:
        against = f"  of {money(cap)} cap ({total / cap:.0%})" if cap else "  (no cap)"
        return f"{block[0]:%Y-%m}  {block[1]:<16} {'total':<19} {count:>10,} {money(total):>12}{against}"

    def print_scenario(self, emails: int, sms: int, *, options: dict[str, Any]) -> None:
        days = options["days"]
        self.stdout.write(f"Scenario: {emails:,} emails and {sms:,} SMS in one {days}-day month")
        configured = [
            price_scenario(emails, settings.MESSAGING_EMAIL_PROVIDERS, days=days),
            price_scenario(sms, settings.MESSAGING_SMS_PROVIDERS, days=days),
        ]
        self.print_chain(Channel.EMAIL, configured[0], "configured")
        self.print_chain(Channel.SMS, configured[1], "configured")
        self.stdout.write(f"configured chains total {money(sum((p.total for p in configured), Decimal('0')))}")
        for channel, option, volume in ((Channel.EMAIL, "email_chain", emails), (Channel.SMS, "sms_chain", sms)):
            if options[option]:
                chain = parse_chain(options[option], channel)
                self.print_chain(channel, price_scenario(volume, chain, days=days), "command line")

    def print_chain(self, channel: Channel, priced: ScenarioPrice, source: str) -> None:
        shares = ", ".join(f"{s.provider} {s.messages:,} {money(s.cost)}" for s in priced.shares) or "none"
        unplaced = f", {priced.unplaced:,} unplaced (every quota spent)" if priced.unplaced else ""
        chain = ",".join(priced.chain)
        self.stdout.write(f"{channel.value} chain {chain} ({source}): {shares}{unplaced}; total {money(priced.total)}")
