"""A tenant's monthly spending cap and what it has spent (rules: messaging/budgets.py).

Keyed by the tenant's slug, which every message carries as CommunicationLog.tenant_id,
so the failover loop in a worker reads the cap without knowing the accounts layer.
"""

from __future__ import annotations

from django.db import models


class AtCap(models.TextChoices):
    # No message that would take the month's spend past the cap is sent; sends get 402 at accept.
    REFUSE = "refuse", "Refuse new sends"
    # Keep sending through the platform's cheaper chain (MESSAGING_BUDGET_*_PROVIDERS) while each
    # message still fits under the cap: a free provider (SMTP, a free tier) keeps working.
    CHEAPER = "cheaper", "Fall back to the cheaper chain"


class TenantBudget(models.Model):
    """A tenant's monthly spending cap in USD (UTC months); no row or no cap: no limit."""

    tenant = models.CharField(max_length=64, unique=True, help_text="The tenant's id (slug).")
    monthly_cap_usd = models.DecimalField(
        "monthly cap (USD)", max_digits=12, decimal_places=2, null=True, blank=True,
        help_text="Empty: no cap.",
    )  # fmt: skip
    at_cap = models.CharField("at the cap", max_length=16, choices=AtCap.choices, default=AtCap.REFUSE)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "tenant budget"
        db_table = "messaging_tenant_budget"
        ordering = ["tenant"]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.monthly_cap_usd if self.monthly_cap_usd is not None else 'no'} USD a month"


class TenantSpend(models.Model):
    """What a tenant has spent (sent, or reserved for a call in flight) in one UTC month.

    Seeded from the month's recorded costs when first needed; after that every paid provider call
    reserves its price here first, in one conditional UPDATE, and gives it back if the call fails.
    """

    tenant = models.CharField(max_length=64)
    month = models.DateField(help_text="The first day of the UTC month.")
    spent_usd = models.DecimalField("spent (USD)", max_digits=14, decimal_places=6, default=0)
    # The cap in force when a message was refused for the budget: accept answers 402 while it still is.
    refused_at_cap = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    # When the 80 % notice was given for this month (once a month).
    warned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "tenant spend"
        db_table = "messaging_tenant_spend"
        ordering = ["-month", "tenant"]
        constraints = [models.UniqueConstraint(fields=["tenant", "month"], name="tenant_spend_one_per_month")]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m}: {self.spent_usd} USD"
