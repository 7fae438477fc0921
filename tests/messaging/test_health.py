"""GET /health/messaging (provider health in the design's JSON shape) and GET /health (liveness)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from messaging.breaker import breaker_for
from messaging.pricing import price_of

TOP_KEYS = {
    "timestamp",
    "email_providers",
    "sms_providers",
    "overall_status",
    "active_providers",
    "shared_breaker_store_available",
    "pending_deliveries",
}
PROVIDER_KEYS = {
    "name",
    "priority",
    "circuit_breaker",
    "is_healthy",
    "failure_count",
    "last_error",
    "configured",
    "next_attempt_at",
    "quota_spent",
    "receipts",
}
pytestmark = pytest.mark.django_db

SENDGRID_KEY = "SG.health-test-key.0123456789abcdef"


@pytest.fixture
def all_configured(settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every provider of the default chains has what its is_configured() asks for."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    settings.AWS_REGION = "us-east-1"
    settings.SENDGRID_API_KEY = SENDGRID_KEY
    settings.TWILIO_ACCOUNT_SID = "AC" + "0" * 32
    settings.TWILIO_AUTH_TOKEN = "twilio-token-for-tests"
    settings.TWILIO_FROM_NUMBER = "+15005550006"
    settings.SMTP_HOST = "127.0.0.1"
    settings.CONSOLE_SMS_OUTPUT = "-"
    settings.MESSAGING_EMAIL_PROVIDERS = ["ses", "sendgrid", "smtp"]
    settings.MESSAGING_SMS_PROVIDERS = ["sns", "twilio", "console"]


def open_breaker(provider: str, error: str = "503 Service Unavailable") -> None:
    breaker = breaker_for(provider)
    for _ in range(5):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit, error)


def messaging_health(client) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/messaging")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def by_name(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in entries}


def assert_documented_shape(body: dict[str, Any]) -> None:
    assert set(body) == TOP_KEYS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["timestamp"])
    assert [e["priority"] for e in body["email_providers"]] == ["PRIMARY", "SECONDARY", "TERTIARY"]
    assert [e["priority"] for e in body["sms_providers"]] == ["PRIMARY", "SECONDARY", "TERTIARY"]
    for entry in body["email_providers"] + body["sms_providers"]:
        assert set(entry) == PROVIDER_KEYS
        assert entry["circuit_breaker"] in {"closed", "open", "half_open"}
    assert set(body["active_providers"]) == {"email", "sms"}


def test_all_providers_healthy(client, all_configured) -> None:
    status, body = messaging_health(client)
    assert status == 200
    assert_documented_shape(body)
    assert [e["name"] for e in body["email_providers"]] == ["AWSSESProvider", "SendGridProvider", "SMTPProvider"]
    assert [e["name"] for e in body["sms_providers"]] == ["AWSSNSProvider", "TwilioProvider", "ConsoleSMSProvider"]
    for entry in body["email_providers"] + body["sms_providers"]:
        assert entry["configured"] and entry["is_healthy"]
        assert (entry["circuit_breaker"], entry["failure_count"], entry["last_error"]) == ("closed", 0, None)
        assert entry["next_attempt_at"] is None
    assert body["overall_status"] == "healthy"
    assert body["active_providers"] == {"email": "EmailService (AWS SES)", "sms": "SMSService (AWS SNS)"}
    assert body["shared_breaker_store_available"] is True


def test_an_open_ses_breaker_degrades_service_to_sendgrid(client, all_configured) -> None:
    open_breaker("ses", "InvalidClientTokenId: The security token included in the request is invalid.")
    status, body = messaging_health(client)
    assert status == 200
    assert_documented_shape(body)
    ses = by_name(body["email_providers"])["AWSSESProvider"]
    assert ses["circuit_breaker"] == "open"
    assert ses["is_healthy"] is False
    assert ses["failure_count"] == 5
    assert ses["last_error"].startswith("InvalidClientTokenId")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", ses["next_attempt_at"])
    assert body["overall_status"] == "degraded"
    assert body["active_providers"] == {"email": "EmailService (SendGrid)", "sms": "SMSService (AWS SNS)"}


def test_every_sms_provider_open_is_unhealthy_with_503(client, all_configured) -> None:
    for provider in ("sns", "twilio", "console"):
        open_breaker(provider)
    status, body = messaging_health(client)
    assert status == 503
    assert_documented_shape(body)
    assert all(e["circuit_breaker"] == "open" and not e["is_healthy"] for e in body["sms_providers"])
    assert body["overall_status"] == "unhealthy"
    assert body["active_providers"] == {"email": "EmailService (AWS SES)", "sms": None}


def test_an_unconfigured_provider_is_shown_unhealthy_and_passed_over(client, all_configured, settings) -> None:
    settings.SENDGRID_API_KEY = ""
    open_breaker("ses")
    status, body = messaging_health(client)
    sendgrid = by_name(body["email_providers"])["SendGridProvider"]
    assert (sendgrid["configured"], sendgrid["is_healthy"], sendgrid["circuit_breaker"]) == (False, False, "closed")
    assert (status, body["overall_status"]) == (200, "degraded")
    assert body["active_providers"]["email"] == "EmailService (SMTP)"


def test_a_provider_whose_daily_quota_is_spent_is_unhealthy_and_passed_over(client, all_configured, settings) -> None:
    from django.utils import timezone

    from messaging.models import CommunicationLog, MessageStatus

    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp", "sendgrid"]
    daily_quota = price_of("smtp").daily_quota
    now = timezone.now()
    CommunicationLog.objects.bulk_create(
        CommunicationLog(
            recipient=f"user{i}@example.com",
            channel="email",
            status=MessageStatus.SENT,
            provider_used="smtp",
            sent_at=now,
        )
        for i in range(daily_quota)
    )

    status, body = messaging_health(client)

    smtp = by_name(body["email_providers"])["SMTPProvider"]
    assert (smtp["quota_spent"], smtp["is_healthy"], smtp["circuit_breaker"]) == (True, False, "closed")
    assert (status, body["overall_status"]) == (200, "degraded")
    assert body["active_providers"]["email"] == "EmailService (SendGrid)"


def test_a_half_open_provider_is_not_counted_healthy(client, all_configured) -> None:
    from messaging.breaker_store import RedisStore
    from otpsite.redis import get_redis

    open_breaker("ses")
    get_redis().hset(RedisStore.keys("ses")[0], "open_until", 0)
    assert breaker_for("ses").acquire() is not None  # the one trial is out
    _, body = messaging_health(client)
    ses = by_name(body["email_providers"])["AWSSESProvider"]
    assert (ses["circuit_breaker"], ses["is_healthy"], ses["next_attempt_at"]) == ("half_open", False, None)


def test_last_error_in_health_carries_no_secret(client, all_configured, admin_user) -> None:
    open_breaker("sendgrid", f"401 Unauthorized: bad key {SENDGRID_KEY} (Authorization: Bearer {SENDGRID_KEY})")
    client.force_login(admin_user)  # staff see the error's text; anonymous callers only its code
    response = client.get("/health/messaging")
    assert SENDGRID_KEY not in response.content.decode()
    assert "health-test-key" not in response.content.decode()
    sendgrid = by_name(response.json()["email_providers"])["SendGridProvider"]
    assert sendgrid["last_error"].startswith("401 Unauthorized")


def test_health_says_the_shared_breaker_store_is_unavailable_when_redis_is_unreachable(
    client, all_configured, redis_unreachable
) -> None:
    open_breaker("ses")  # on this process's own breaker
    status, body = messaging_health(client)
    assert status == 200
    assert_documented_shape(body)
    assert body["shared_breaker_store_available"] is False
    assert by_name(body["email_providers"])["AWSSESProvider"]["circuit_breaker"] == "open"
    assert body["overall_status"] == "degraded"


# --- GET /health ----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.integration
def test_liveness_is_ok_when_database_redis_and_a_worker_answer(client, start_worker) -> None:
    start_worker(concurrency=1)
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "redis": True,
        "workers": True,
    }


@pytest.mark.django_db
def test_liveness_is_503_when_no_worker_answers(client) -> None:
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert (checks["database"]["ok"], checks["redis"]["ok"], checks["workers"]["ok"]) == (True, True, False)


@pytest.mark.django_db
def test_liveness_is_503_quickly_when_redis_is_unreachable(client, redis_unreachable) -> None:
    started = time.monotonic()
    response = client.get("/health")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["redis"] == {"ok": False, "detail": "ConnectionError"}
    assert body["checks"]["database"]["ok"] is True
