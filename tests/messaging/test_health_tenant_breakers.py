"""Tenants' own breakers on /health/messaging (staff only) and /metrics: bounded by
MESSAGING_HEALTH_TENANT_BREAKERS, worst first; anonymous callers see no tenant."""

from __future__ import annotations

from typing import Any

import pytest

from messaging.breaker import breaker_for, tenant_breaker_name
from tests.messaging.test_health import all_configured, open_breaker  # noqa: F401 (fixture)
from tests.messaging.test_tenant_providers import own_credential

pytestmark = pytest.mark.django_db

TOKEN = "health-staff-token"


def twilio_of(tenant: str) -> str:
    row = own_credential(tenant, "twilio", TWILIO_ACCOUNT_SID="AC" + "d4" * 16, TWILIO_AUTH_TOKEN=f"{tenant}-token-x",
                         TWILIO_FROM_NUMBER="+15005550404")  # fmt: skip
    return tenant_breaker_name("twilio", tenant=tenant, credential_id=row.pk)


def fail_once(name: str) -> None:
    breaker = breaker_for(name)
    permit = breaker.acquire()
    assert permit is not None
    breaker.record_failure(permit, "401 Authenticate")


@pytest.fixture
def tenant_breakers(settings, all_configured) -> dict[str, str]:  # noqa: F811
    """globex's and initech's Twilio breakers open, acme's counting one failure, umbrella's clean."""
    settings.METRICS_TOKEN = TOKEN
    names = {tenant: twilio_of(tenant) for tenant in ("acme", "globex", "initech", "umbrella")}
    fail_once(names["acme"])
    open_breaker(names["globex"], "20003 Authenticate")
    open_breaker(names["initech"], "20003 Authenticate")
    return names


def health(client, **headers: str) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/messaging", headers=headers)
    return response.status_code, response.json()


def test_staff_see_the_tenant_breakers_not_closed_first_and_the_platform_stays_healthy(
    client, admin_user, tenant_breakers
):
    client.force_login(admin_user)

    code, body = health(client)

    assert code == 200 and body["overall_status"] == "healthy"  # a tenant's account never fails the service
    twilio = next(entry for entry in body["sms_providers"] if entry["name"] == "TwilioProvider")
    assert twilio["circuit_breaker"] == "closed"  # the platform's own, as before
    report = body["tenant_breakers"]
    assert (report["total"], report["not_closed"], report["shown_at_most"]) == (4, 2, 20)
    shown = [(b["tenant"], b["provider"], b["circuit_breaker"], b["failure_count"]) for b in report["breakers"]]
    assert shown == [("globex", "twilio", "open", 5), ("initech", "twilio", "open", 5), ("acme", "twilio", "closed", 1)]
    assert report["breakers"][0]["breaker"] == tenant_breakers["globex"]
    assert report["breakers"][0]["last_error"] == "20003 Authenticate"
    assert report["breakers"][0]["next_attempt_at"]


def test_the_list_is_bounded_by_the_setting_worst_first(client, settings, tenant_breakers):
    settings.MESSAGING_HEALTH_TENANT_BREAKERS = 1

    _, body = health(client, Authorization=f"Bearer {TOKEN}")

    report = body["tenant_breakers"]
    assert (report["total"], report["not_closed"]) == (4, 2)
    assert [(b["tenant"], b["circuit_breaker"]) for b in report["breakers"]] == [("globex", "open")]


def test_anonymous_callers_see_no_tenant(client, tenant_breakers):
    code, body = health(client)

    assert code == 200 and "tenant_breakers" not in body
    text = str(body)
    assert not any(tenant in text for tenant in tenant_breakers)


def test_metrics_export_the_tenant_breakers_not_closed_at_most_the_setting(client, settings, tenant_breakers):
    def lines() -> list[str]:
        page = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
        return [line for line in page.splitlines() if line.startswith("messaging_tenant_breaker_state{")]

    assert lines() == [
        'messaging_tenant_breaker_state{provider="twilio",tenant="globex"} 2.0',
        'messaging_tenant_breaker_state{provider="twilio",tenant="initech"} 2.0',
    ]  # acme's is closed (one failure): not exported
    settings.MESSAGING_HEALTH_TENANT_BREAKERS = 1
    assert lines() == ['messaging_tenant_breaker_state{provider="twilio",tenant="globex"} 2.0']
    breaker_for(tenant_breakers["globex"]).reset()
    breaker_for(tenant_breakers["initech"]).reset()
    assert lines() == []
