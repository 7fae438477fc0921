"""manage.py messaging_costs per tenant, on the design's cost scenario (October 2025).

The design prices 10,000 signups (20,000 emails and 20,000 SMS) at $150.00 a month without AWS
(Twilio: 20,000 x $0.0075) and $122.55 with it (SES free; SNS: 1,000 free + 19,000 x $0.00645).
Two tenants live those two months side by side, each under a $150.00 cap; the report shows each
one's messages and cost per channel and provider, and its total against its cap.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from messaging.budget_models import TenantBudget
from messaging.models import MessageStatus

pytestmark = pytest.mark.django_db

OCTOBER = datetime(2025, 10, 29, 10, 30, tzinfo=UTC)


def sent(tenant: str, channel: str, provider: str, count: int, cost: str, at: datetime = OCTOBER) -> None:
    """`count` sent messages in one statement (60,000 model instances take far longer)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO communication_logs (message_id, recipient, channel, purpose, status, provider_used,"
            " provider_message_id, cost, error_message, metadata, tenant_id, created_at, sent_at)"
            " SELECT gen_random_uuid(), 'x', %s, '', %s, %s, '', %s, '', %s::jsonb, %s, %s, %s"
            " FROM generate_series(1, %s)",
            [
                channel,
                MessageStatus.SENT,
                provider,
                Decimal(cost),
                json.dumps({"tenant_id": tenant}),
                tenant,
                *(at, at, count),
            ],
        )


@pytest.fixture
def design_month() -> None:
    sent("without-aws", "sms", "twilio", 20_000, "0.0075")
    sent("with-aws", "email", "ses", 20_000, "0")
    sent("with-aws", "sms", "sns", 1_000, "0")
    sent("with-aws", "sms", "sns", 19_000, "0.00645")
    sent("other", "sms", "twilio", 1, "0.0075", datetime(2025, 11, 1, tzinfo=UTC))  # not October's
    for tenant in ("without-aws", "with-aws"):
        TenantBudget.objects.create(tenant=tenant, monthly_cap_usd=Decimal("150"))


def run(*args: str) -> list[str]:
    out = StringIO()
    call_command("messaging_costs", *args, stdout=out)
    return out.getvalue().splitlines()


def test_the_by_tenant_report_shows_the_designs_two_months_against_their_caps(design_month):
    lines = run("--month", "2025-10", "--by-tenant")

    assert lines == [
        "month    tenant           channel  provider     messages         cost",
        "2025-10  with-aws         email    ses            20,000        $0.00",
        "2025-10  with-aws         sms      sns            20,000      $122.55",
        "2025-10  with-aws         total                   40,000      $122.55  of $150.00 cap (82%)",
        "2025-10  without-aws      sms      twilio         20,000      $150.00",
        "2025-10  without-aws      total                   20,000      $150.00  of $150.00 cap (100%)",
    ]


def test_the_tenant_option_keeps_one_tenants_messages(design_month):
    lines = run("--tenant", "with-aws")

    assert lines[1:] == [
        "2025-10  with-aws         email    ses            20,000        $0.00",
        "2025-10  with-aws         sms      sns            20,000      $122.55",
        "2025-10  with-aws         total                   40,000      $122.55  of $150.00 cap (82%)",
    ]
    other = run("--tenant", "other")
    assert other[-1] == "2025-11  other            total                        1        $0.01  (no cap)"
