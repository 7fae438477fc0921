"""A tenant's monthly spending cap (messaging/budgets.py): reserved per call, refused past the cap.

Sends go through the real failover loop to the Twilio stand-in (and SNS on moto); what is checked
is what the tenant and the operator see: messages sent or refused, the stand-in's calls, the
recorded costs, the breaker, the API's answers, the log line and the /metrics figure.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.utils import timezone

from messaging import budgets
from messaging.breaker import breaker_for
from messaging.breaker_store import RedisStore
from messaging.budget_models import AtCap, TenantBudget, TenantSpend
from messaging.models import AttemptOutcome, CommunicationLog, MessageStatus
from messaging.service import UnifiedMessagingService
from otpsite.redis import get_redis
from tests.helpers import SEND_URL
from tests.metrics_helpers import TOKEN
from tests.notifications.conftest import SMS, tenant_client

pytestmark = pytest.mark.django_db(transaction=True)

TWILIO_PRICE = Decimal("0.0075")


@pytest.fixture
def twilio_only(settings, twilio_standin):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio"]
    return twilio_standin


def cap(tenant: str, usd: str | None, at_cap: str = AtCap.REFUSE) -> TenantBudget:
    return TenantBudget.objects.update_or_create(
        tenant=tenant, defaults={"monthly_cap_usd": None if usd is None else Decimal(usd), "at_cap": at_cap}
    )[0]


def send(tenant: str = "acme", to: str = "+14155550123") -> dict:
    return UnifiedMessagingService().send_sms(to, "Your parcel ships today.", {"tenant_id": tenant})


def spent(tenant: str = "acme") -> Decimal:
    return TenantSpend.objects.get(tenant=tenant).spent_usd


def test_the_call_that_would_pass_the_cap_is_not_made_and_the_message_fails_for_the_budget(twilio_only):
    cap("acme", "0.02")  # room for two Twilio messages (0.015), not three (0.0225)

    results = [send() for _ in range(3)]

    assert [r["status"] for r in results] == ["sent", "sent", "failed"]
    assert len(twilio_only.messages) == 2
    refused = CommunicationLog.objects.get(message_id=results[2]["message_id"])
    assert refused.error_message == (
        "budget: the tenant's monthly spending cap of 0.02 USD leaves no room for this message"
    )
    assert list(refused.attempts.values_list("provider", "outcome")) == [("twilio", AttemptOutcome.SKIPPED_BUDGET)]
    assert spent() == 2 * TWILIO_PRICE
    # Nobody's fault but the cap: the breaker counts nothing.
    assert breaker_for("twilio").snapshot().failure_count == 0


def test_a_refused_message_is_final_the_worker_does_not_retry_it(twilio_only):
    cap("acme", "0.001")
    log = CommunicationLog.objects.create(recipient="+14155550123", channel="sms", status=MessageStatus.SENDING,
                                          tenant_id="acme", metadata={"tenant_id": "acme"})  # fmt: skip
    from messaging.providers.base import SmsMessage

    outcome = UnifiedMessagingService().deliver(log, SmsMessage(to=log.recipient, body="hi"))

    assert (outcome.success, outcome.retryable, outcome.status) == (False, False, MessageStatus.FAILED)
    assert twilio_only.messages == []


def test_other_tenants_and_tenants_without_a_cap_are_not_limited(twilio_only):
    cap("acme", "0.001")
    cap("globex", None)

    assert send("globex")["status"] == "sent"
    assert send("initech")["status"] == "sent"
    assert send("acme")["status"] == "failed"
    assert len(twilio_only.messages) == 2


def test_a_failed_call_gives_its_price_back(twilio_only):
    cap("acme", "0.01")
    twilio_only.fail_with(503, {"code": 20503, "message": "Service unavailable", "status": 503})
    assert send()["status"] == "failed"  # every provider failed: not the budget
    assert spent() == 0

    twilio_only.behave()
    assert send()["status"] == "sent"
    assert spent() == TWILIO_PRICE


def test_the_month_is_seeded_from_the_costs_already_recorded(twilio_only):
    now = timezone.now()
    CommunicationLog.objects.create(recipient="x", channel="sms", status="sent", provider_used="twilio",
                                    cost=Decimal("0.015"), sent_at=now, tenant_id="acme")  # fmt: skip
    CommunicationLog.objects.create(recipient="x", channel="sms", status="sent", provider_used="twilio",
                                    cost=Decimal("5"), sent_at=now, tenant_id="globex")  # fmt: skip
    cap("acme", "0.02")

    assert send()["status"] == "failed"  # 0.015 recorded + 0.0075 > 0.02
    assert spent() == Decimal("0.015")
    assert twilio_only.messages == []


def test_concurrent_reservations_never_pass_the_cap():
    budget = cap("acme", "0.10")
    taken: list[bool] = []
    start = threading.Barrier(25)

    def reserve_one() -> None:
        start.wait()
        try:
            budgets.reserve(budget, Decimal("0.01"), now=timezone.now())
            taken.append(True)
        except budgets.OverBudget:
            taken.append(False)
        finally:
            connection.close()

    threads = [threading.Thread(target=reserve_one) for _ in range(25)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert taken.count(True) == 10
    assert spent() == Decimal("0.10")


def test_at_80_percent_one_warning_is_logged_for_the_month_and_metrics_show_the_ratio(
    twilio_only, caplog, client, settings
):
    cap("acme", "0.03")  # 4 messages: 25 %, 50 %, 75 %, 100 %
    settings.METRICS_TOKEN = TOKEN
    with caplog.at_level(logging.WARNING, logger="messaging.budgets"):
        for _ in range(3):
            send()
        assert not [r for r in caplog.records if "budget_warning" in r.getMessage()]
        send()
        send()  # refused: still one warning
    warnings = [r.getMessage() for r in caplog.records if "messaging.budget_warning" in r.getMessage()]
    assert warnings == ["event=messaging.budget_warning tenant=acme spent_usd=0.03 cap_usd=0.03"]
    assert TenantSpend.objects.get(tenant="acme").warned_at is not None

    page = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    assert 'messaging_tenant_budget_used_ratio{tenant="acme"} 1.0' in page


def test_metrics_label_only_capped_tenants_and_at_most_the_setting(client, settings):
    settings.METRICS_TOKEN = TOKEN
    settings.MESSAGING_BUDGET_METRIC_TENANTS = 2
    month = budgets.month_of(timezone.now())
    for tenant, used in (("a", "1"), ("b", "5"), ("c", "9")):
        cap(tenant, "10")
        TenantSpend.objects.create(tenant=tenant, month=month, spent_usd=Decimal(used))
    cap("uncapped", None)

    page = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    lines = [line for line in page.splitlines() if line.startswith("messaging_tenant_budget_used_ratio{")]
    assert lines == [
        'messaging_tenant_budget_used_ratio{tenant="c"} 0.9',
        'messaging_tenant_budget_used_ratio{tenant="b"} 0.5',
    ]


def test_at_the_cap_both_send_endpoints_answer_402_until_the_cap_is_raised(twilio_only, settings):
    acme = tenant_client("acme")
    cap("acme", "0.01")
    assert acme.send(SMS).status_code == 202
    send()  # the worker's part: 0.0075 spent
    send()  # refused: 0.015 > 0.01

    answer = acme.send(SMS)
    otp = acme.client.post(SEND_URL, {"phone": "+14155550199"}, content_type="application/json",
                           HTTP_AUTHORIZATION=f"Api-Key {acme.key}")  # fmt: skip

    for refused in (answer, otp):
        assert refused.status_code == 402
        body = refused.json()
        assert body["code"] == "budget_exhausted" and body["monthly_cap_usd"] == "0.01"
        assert body["detail"].startswith("This tenant's monthly spending cap of 0.01 USD is spent")
        assert body["resets_at"].endswith("T00:00:00Z")
        assert refused["Cache-Control"].startswith("no-store") or "no-store" in refused["Cache-Control"]

    cap("acme", "0.05")
    assert acme.send(SMS).status_code == 202


def test_a_test_key_is_not_refused_at_the_cap(twilio_only):
    acme_test = tenant_client("acme", kind="test")
    cap("acme", "0.001")
    send()  # refused at the cap
    assert acme_test.send(SMS).status_code == 202


def test_a_tenant_that_chose_the_cheaper_chain_keeps_sending_through_it_while_it_fits(twilio_only, aws, settings):
    settings.MESSAGING_BUDGET_PROVIDERS = {"email": [], "sms": ["sns"]}  # SNS: its free tier costs nothing
    acme = tenant_client("acme")
    cap("acme", "0.01", AtCap.CHEAPER)

    first, second = send(), send()

    assert (first["provider"], second["provider"]) == ("twilio", "sns")
    assert second["status"] == "sent" and second["cost"] == 0
    assert list(
        CommunicationLog.objects.get(message_id=second["message_id"]).attempts.values_list("provider", "outcome")
    ) == [("twilio", AttemptOutcome.SKIPPED_BUDGET), ("sns", AttemptOutcome.SENT)]
    assert acme.send(SMS).status_code == 202  # no 402: the cheaper chain decides
    assert len(twilio_only.messages) == 1


def test_the_cheaper_chain_defaults_to_the_platforms_chain_cheapest_first(settings):
    settings.MESSAGING_SMS_PROVIDERS = ["twilio", "sns"]
    settings.MESSAGING_BUDGET_PROVIDERS = {"email": [], "sms": []}
    assert [p.name for p in budgets.cheaper_chain("sms")] == ["sns", "twilio"]


def test_the_admin_shows_this_months_use_and_a_banner_at_80_percent(admin_client):
    cap("acme", "10")
    cap("globex", "10")
    TenantSpend.objects.create(tenant="acme", month=budgets.month_of(datetime.now(UTC)), spent_usd=Decimal("8.5"))

    page = admin_client.get("/admin/messaging/tenantbudget/").content.decode()

    assert "Tenant acme has spent 8.50 of its 10.00 USD monthly cap (85%)." in page
    assert "globex has spent" not in page
    assert "8.50" in page and "85%" in page


def test_the_platform_dashboard_names_the_tenants_near_their_cap(admin_client):
    cap("acme", "10")
    cap("globex", "10")
    cap("initech", "10")
    month = budgets.month_of(datetime.now(UTC))
    TenantSpend.objects.create(tenant="acme", month=month, spent_usd=Decimal("10"))
    TenantSpend.objects.create(tenant="globex", month=month, spent_usd=Decimal("8"))
    TenantSpend.objects.create(tenant="initech", month=month, spent_usd=Decimal("7.99"))

    page = admin_client.get("/admin/dashboard/").content.decode()

    assert (
        "Near or at their monthly cap: acme (10.00 of 10.00 USD, new sends refused), globex (8.00 of 10.00 USD)."
    ) in page
    assert "initech" not in page


@pytest.mark.parametrize("chain", [["nope"], ["smtp"]])
def test_a_cheaper_chain_naming_an_unknown_or_other_channel_provider_fails_at_start_up(settings, chain):
    settings.MESSAGING_BUDGET_PROVIDERS = {"email": [], "sms": chain}
    with pytest.raises(ImproperlyConfigured, match=f"MESSAGING_BUDGET_SMS_PROVIDERS names '{chain[0]}'"):
        budgets.validate_cheaper_chains()


def test_a_call_the_breaker_refuses_gives_its_price_back(twilio_only):
    cap("acme", "1")
    get_redis().hset(RedisStore.keys("twilio")[0], mapping={"state": "open", "failures": 5, "open_until": 2**50})

    assert send()["status"] == "failed"

    assert twilio_only.messages == []
    assert spent() == 0
