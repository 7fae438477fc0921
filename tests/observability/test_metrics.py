"""/metrics in one process: who may read it, and what the alert rules and the Grafana dashboard
may ask of it (every metric they name is one the service exports)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.utils import timezone

from messaging.breaker import breaker_for, tenant_breaker_name
from messaging.budget_models import TenantBudget
from messaging.service import UnifiedMessagingService
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from tests.conftest import ROOT
from tests.helpers import SEND_URL, VERIFY_URL, missing_tool
from tests.messaging.test_tenant_providers import own_credential
from tests.metrics_helpers import TOKEN, Scrape

pytestmark = pytest.mark.django_db

DEPLOY = ROOT / "deploy"
METRIC_NAME = re.compile(r"\b((?:otp|messaging)_[a-z0-9_]+)\b")


def scrape(client, token: str | None = TOKEN, scheme: str = "Bearer"):
    headers = {"HTTP_AUTHORIZATION": f"{scheme} {token}"} if token is not None else {}
    return client.get("/metrics", **headers)


@pytest.fixture
def metrics_token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def test_there_is_no_metrics_page_when_no_token_is_configured(client, settings):
    settings.METRICS_TOKEN = ""

    assert scrape(client).status_code == 404
    assert scrape(client, token="").status_code == 404


def test_metrics_need_the_bearer_token(client, metrics_token):
    missing = scrape(client, token=None)
    basic = scrape(client, scheme="Basic")
    wrong = scrape(client, token=TOKEN[:-1] + "x")
    right = scrape(client)

    assert missing.status_code == 401 and missing["WWW-Authenticate"].startswith("Bearer")
    assert basic.status_code == 401
    assert wrong.status_code == 403 and b"otp_" not in wrong.content
    assert right.status_code == 200 and right["Content-Type"].startswith("text/plain")
    assert "no-store" in right["Cache-Control"] or "max-age=0" in right["Cache-Control"]


@pytest.fixture
def exported(client, metrics_token, settings, smtp_sink, closed_port_url, django_capture_on_commit_callbacks) -> Scrape:
    """A failover that opens a breaker, an accepted and a refused send, a failed verify; then a scrape.

    Counters of this process also hold earlier tests' events: `before` is the scrape taken first.
    """
    before = Scrape(scrape(client).content.decode())
    settings.MESSAGING_EMAIL_PROVIDERS = ["sendgrid", "smtp"]
    settings.SENDGRID_API_KEY, settings.SENDGRID_API_HOST = "SG.test-key", closed_port_url
    settings.BREAKER_FAILURE_THRESHOLD = 1
    settings.MESSAGING_PRICES = {**settings.MESSAGING_PRICES, "smtp": {"per_message": 0, "daily_quota": 500}}
    TenantBudget.objects.create(tenant="acme", monthly_cap_usd=10)  # a capped tenant's budget ratio
    acme_twilio = own_credential("acme", "twilio", TWILIO_ACCOUNT_SID="AC" + "e5" * 16, TWILIO_AUTH_TOKEN="acme-token",
                                 TWILIO_FROM_NUMBER="+15005550505")  # fmt: skip
    tenant_breaker = breaker_for(tenant_breaker_name("twilio", tenant="acme", credential_id=acme_twilio.pk))
    tenant_breaker.record_failure(tenant_breaker.acquire(), "20003 Authenticate")  # type: ignore[arg-type]
    UnifiedMessagingService().send_email("ops@example.com", "Your code", "<p>x</p>", "x")
    body = {"email": "ops@example.com", "purpose": "signup"}
    for _ in range(2):  # the second is refused: the resend cooldown
        with django_capture_on_commit_callbacks(execute=True):  # the task reaches the broker's queue
            client.post(SEND_URL, body, content_type="application/json")
    client.post(VERIFY_URL, {**body, "code": "000000"}, content_type="application/json")
    settings.SMS_PUMPING_PREFIX_MIN_UNVERIFIED = 1  # one unverified SMS blocks its prefix (no task is published)
    client.post(SEND_URL, {"phone": "+12025550100"}, content_type="application/json")
    response = scrape(client)
    assert response.status_code == 200
    after = Scrape(response.content.decode())
    after.before = before  # type: ignore[attr-defined]
    return after


def increase(scraped: Scrape, name: str, **labels: str) -> float:
    return scraped.value(name, **labels) - scraped.before.value(name, **labels)  # type: ignore[attr-defined]


def test_one_process_exports_every_kind_of_figure(exported):
    assert increase(exported, "otp_sends_total", channel="email", result="accepted") == 1
    assert increase(exported, "otp_sends_total", channel="email", result="refused", reason="cooldown") == 1
    assert increase(exported, "otp_verifies_total", result="failure") == 1
    assert increase(exported, "messaging_failovers_total", channel="email", provider="smtp") == 1
    assert increase(exported, "messaging_breaker_transitions_total", provider="sendgrid", to_state="open") == 1
    assert exported.value("messaging_breaker_state", provider="sendgrid") == 2
    assert exported.value("messaging_tenant_breaker_state", tenant="acme", provider="twilio") == 2
    assert increase(exported, "messaging_queue_depth", queue="delivery") == 1  # earlier tests may leave tasks
    assert exported.value("messaging_undelivered_messages", channel="email") == 1
    assert exported.value("messaging_oldest_undelivered_age_seconds", channel="email") > 0
    assert exported.value("messaging_provider_quota_used", provider="smtp", period="day") == 1
    assert exported.value("messaging_provider_quota_limit", provider="smtp", period="day") == 500


def names_in(expression: str) -> set[str]:
    return set(METRIC_NAME.findall(expression))


def dashboard_queries() -> list[tuple[str, list[str]]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "otpsvc-overview.json").read_text())
    return [(panel["title"], [t["expr"] for t in panel["targets"]]) for panel in dashboard["panels"]]


def test_every_dashboard_panel_queries_metrics_the_service_exports(exported):
    panels = dashboard_queries()

    assert len(panels) >= 10
    for title, expressions in panels:
        named = set().union(*(names_in(e) for e in expressions))
        assert named, f"panel {title!r} names no metric of the service"
        assert named <= exported.names, f"panel {title!r} names unexported {named - exported.names}"


def test_every_dashboard_panel_reads_the_provisioned_prometheus():
    provisioned = (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    uid = re.search(r"uid: (\S+)", provisioned).group(1)
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "otpsvc-overview.json").read_text())

    assert dashboard["uid"] and dashboard["title"]
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == uid and {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert all(target["datasource"]["uid"] == uid for target in panel["targets"])


def test_every_alert_rule_uses_exported_metrics(exported):
    text = (DEPLOY / "prometheus" / "alerts.yml").read_text()
    expressions = re.findall(r"expr: (?:\|\n)?((?:.+\n?)+?)\s+(?:for|labels):", text)

    assert len(expressions) == 9
    for expression in expressions:
        assert names_in(expression) and names_in(expression) <= exported.names, expression


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        missing_tool("promtool is not installed (Debian package 'prometheus'; `make test` installs it as root)")
    return path


@pytest.mark.parametrize("command", [["check", "rules", "alerts.yml"], ["test", "rules", "alerts_test.yml"]])
def test_the_alert_rules_pass_promtool(command):
    result = subprocess.run([promtool(), *command], cwd=DEPLOY / "prometheus", capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_the_alert_rules_cover_the_four_conditions_operators_asked_for():
    rules = (DEPLOY / "prometheus" / "alerts.yml").read_text()

    for alert in ("MessagingBreakerOpen", "MessagingDeliverySuccessLow", "OtpOldestUndeliveredCode"):
        assert f"alert: {alert}" in rules
    assert "alert: MessagingProviderDailyQuota80" in rules and ">= 0.8" in rules
    assert "alert: MessagingTenantBudget80" in rules


def test_the_compose_file_offers_prometheus_and_grafana_under_a_profile():
    compose = (ROOT / "docker-compose.yml").read_text()

    for service in ("prometheus", "grafana"):
        block = compose.split(f"\n  {service}:\n", 1)[1].split("\n\n", 1)[0]
        assert 'profiles: ["observability"]' in block
    assert Path(DEPLOY / "prometheus" / "prometheus.yml").exists()


def counted(client, name: str, **labels: str) -> float:
    return Scrape(scrape(client).content.decode()).value(name, **labels)


def test_refused_sends_are_counted_by_reason_and_a_lockout_as_locked(client, metrics_token, settings):
    settings.OTP_LOCKOUT_THRESHOLD = 1
    sends = {"channel": "sms", "result": "refused"}
    before = {reason: counted(client, "otp_sends_total", **sends, reason=reason) for reason in ("destination", "ip")}
    locked_before = counted(client, "otp_verifies_total", result="locked")
    # Only guesses at a live code count towards a lockout: give the address one first.
    issued = client.post(SEND_URL, {"email": "lock@example.com", "purpose": "signup"}, content_type="application/json")
    assert issued.status_code == 202
    settings.OTP_SEND_LIMIT_PER_IP = 0

    elsewhere = client.post(SEND_URL, {"phone": "+33612345678", "purpose": "signup"}, content_type="application/json")
    too_many = client.post(SEND_URL, {"phone": "+14155550123", "purpose": "signup"}, content_type="application/json")
    guess = {"email": "lock@example.com", "purpose": "signup", "code": "000000"}
    answers = [client.post(VERIFY_URL, guess, content_type="application/json").status_code for _ in range(2)]

    assert (elsewhere.status_code, too_many.status_code, answers) == (400, 429, [400, 429])
    assert counted(client, "otp_sends_total", **sends, reason="destination") == before["destination"] + 1
    assert counted(client, "otp_sends_total", **sends, reason="ip") == before["ip"] + 1
    assert counted(client, "otp_verifies_total", result="locked") == locked_before + 1


def test_a_send_refused_because_redis_is_down_is_counted_as_unavailable(client, metrics_token, redis_unreachable):
    labels = {"channel": "email", "result": "refused", "reason": "unavailable"}
    before = counted(client, "otp_sends_total", **labels)

    response = client.post(
        SEND_URL, {"email": "down@example.com", "purpose": "signup"}, content_type="application/json"
    )

    assert response.status_code == 503
    assert counted(client, "otp_sends_total", **labels) == before + 1
    assert counted(client, "messaging_metrics_source_up", source="database") == 1
    # This process's fallback breaker store knows nothing of the workers': no "closed" is reported.
    assert counted(client, "messaging_metrics_source_up", source="breakers") == 0


def test_a_queued_code_that_can_no_longer_verify_is_not_counted_as_owed(client, metrics_token, settings):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    for email in ("owed@example.com", "replaced@example.com"):
        issue_code(CodeRequest("default", email, "email", "login"), now=timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(recipient="replaced@example.com").update(invalidated_at=timezone.now())

    assert counted(client, "messaging_undelivered_messages", channel="email") == 1


def test_a_message_refused_for_its_recipient_fails_without_counting_as_a_delivery_failure(
    client, metrics_token, settings, smtp_sink
):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    smtp_sink.reject_with = "550 5.1.1 No such user here"
    failed = {"channel": "email", "status": "failed"}
    before = {
        cause: counted(client, "messaging_messages_total", **failed, cause=cause) for cause in ("recipient", "delivery")
    }

    result = UnifiedMessagingService().send_email("nobody@example.com", "Your code", "<p>x</p>", "x")

    assert result["status"] == "failed"
    assert counted(client, "messaging_messages_total", **failed, cause="recipient") == before["recipient"] + 1
    assert counted(client, "messaging_messages_total", **failed, cause="delivery") == before["delivery"]


def test_the_compose_prometheus_config_passes_promtool_with_its_rules(tmp_path):
    """The config as the container reads it, with the token file (a compose secret there) made here."""
    (tmp_path / "metrics_token").write_text("token\n")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "credentials_file: /run/secrets/metrics_token" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/run/secrets/metrics_token", str(tmp_path / "metrics_token"))
    )
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")

    result = subprocess.run(
        [promtool(), "check", "config", "prometheus.yml"], cwd=tmp_path, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 rules found" in result.stdout + result.stderr
