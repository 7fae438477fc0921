"""Accept time: a tenant whose monthly cap is spent gets 402 for new sends (rule: messaging/budgets.py).

Both send endpoints (POST /api/v1/auth/otp/send, POST /api/v1/messages) call
refuse_if_budget_spent() before anything else is counted or written.
"""

from __future__ import annotations

from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import APIException

from messaging import pricing
from messaging.budget_models import AtCap, TenantSpend
from messaging.budgets import budget_of, month_of

BUDGET_SPENT_CODE = "budget_exhausted"


class BudgetSpent(APIException):
    """402 in the API's error shape: {"detail", "code", "monthly_cap_usd", "resets_at"}."""

    status_code = status.HTTP_402_PAYMENT_REQUIRED
    default_code = BUDGET_SPENT_CODE


def refuse_if_budget_spent(tenant: str) -> None:
    """Raise BudgetSpent when the tenant refuses at its cap and the month's spend reached it, or a
    message was refused at the cap now in force (raising the cap lifts the refusal at once)."""
    budget = budget_of(tenant)
    if budget is None or budget.at_cap != AtCap.REFUSE:
        return
    now = timezone.now()
    spend = TenantSpend.objects.filter(tenant=tenant, month=month_of(now)).first()
    cap = budget.monthly_cap_usd
    if spend is None or cap is None or (spend.spent_usd < cap and spend.refused_at_cap != cap):
        return
    _, resets_at = pricing.month_bounds(now)
    raise BudgetSpent(
        {
            "detail": f"This tenant's monthly spending cap of {cap} USD is spent: new messages are refused "
            "until the cap is raised or the month ends.",
            "code": BUDGET_SPENT_CODE,
            "monthly_cap_usd": f"{cap}",
            "resets_at": resets_at.isoformat().replace("+00:00", "Z"),
        }
    )
