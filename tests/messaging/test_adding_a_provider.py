"""Adding a provider is one folder and one line in settings (ARCHITECTURE.md, "Adding a provider").

tests/messaging/smsbird/ is a whole provider (sender, error table, price, receipt parser and signed
webhook) that no other file names. These tests register it the way the section says: its package
appended to MESSAGING_PROVIDER_PACKAGES, its credentials set, and its name put in the SMS chain (an
environment variable). They then find it in the chain, health, metrics, the breakers command and the
receipt webhooks, and, without that line, nowhere.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import override_settings
from django.urls import clear_url_caches

from messaging import registry
from messaging.models import AttemptOutcome, CommunicationLog, MessageStatus
from messaging.service import UnifiedMessagingService
from tests.conftest import ROOT
from tests.metrics_helpers import TOKEN, Scrape
from tests.standins.http_standin import Answer, HttpStandIn, ReceivedRequest

pytestmark = pytest.mark.django_db

PACKAGE = "tests.messaging.smsbird"
SIGNING_KEY = "smsbird-signing-key-for-tests"
NUMBER = "+447700900123"


class SmsBirdStandIn(HttpStandIn):
    """SmsBird's REST API as the example provider expects it: POST /messages answers 201 with an id."""

    def answer_ok(self, request: ReceivedRequest) -> Answer:
        if request.path != "/messages":
            return Answer(404, {"errors": [{"code": 20, "description": "not found"}]})
        return Answer(201, {"id": uuid.uuid4().hex, "recipients": request.json()["recipients"]})


@pytest.fixture
def smsbird_api(settings) -> Iterator[SmsBirdStandIn]:
    standin = SmsBirdStandIn().start()
    settings.SMSBIRD_ACCESS_KEY = "live_smsbird_access_key"
    settings.SMSBIRD_SIGNING_KEY = SIGNING_KEY
    settings.SMSBIRD_API_URL = standin.url
    try:
        yield standin
    finally:
        standin.stop()


def load_urls() -> None:
    """What a restarted web process does: build the URLs (the receipt webhooks) from the settings."""
    importlib.reload(importlib.import_module("messaging.receipts.urls"))
    importlib.reload(importlib.import_module("web.urls"))
    clear_url_caches()


@pytest.fixture
def registered(settings, smsbird_api) -> Iterator[SmsBirdStandIn]:
    """The one settings line, and SmsBird first in the SMS chain (MESSAGING_SMS_PROVIDERS)."""
    settings.MESSAGING_SMS_PROVIDERS = ["smsbird", "twilio"]
    with override_settings(MESSAGING_PROVIDER_PACKAGES=[*settings.MESSAGING_PROVIDER_PACKAGES, PACKAGE]):
        load_urls()
        yield smsbird_api
    load_urls()


def signed_report(client, report: dict[str, str], *, key: str = SIGNING_KEY):
    body = json.dumps(report).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(key.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/smsbird",
        body,
        content_type="application/json",
        HTTP_SMSBIRD_SIGNATURE=signature,
        HTTP_SMSBIRD_REQUEST_TIMESTAMP=timestamp,
    )


def scrape(client) -> Scrape:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return Scrape(response.content.decode())


def test_without_its_line_in_settings_no_part_of_the_service_knows_it(client, settings, smsbird_api):
    settings.MESSAGING_SMS_PROVIDERS = ["smsbird", "twilio"]

    with pytest.raises(ImproperlyConfigured, match=r"MESSAGING_SMS_PROVIDERS names unknown provider 'smsbird'"):
        registry.validate_chains()
    assert "smsbird" not in registry.names()
    assert signed_report(client, {"id": "x", "status": "delivered"}).status_code == 404


def test_with_its_line_it_is_in_the_chain_and_sends_at_its_own_price(registered):
    registry.validate_chains()

    result = UnifiedMessagingService().send_sms(NUMBER, "Your code is 123456")

    log = CommunicationLog.objects.get(message_id=result["message_id"])
    assert (result["success"], log.provider_used, log.status) == (True, "smsbird", MessageStatus.SENT)
    assert log.cost == Decimal("0.0060")
    [request] = registered.requests
    assert request.headers["Authorization"] == "AccessKey live_smsbird_access_key"
    assert request.json() == {"recipients": [NUMBER], "body": "Your code is 123456"}
    assert len(log.provider_message_id) == 32  # the id SmsBird answered, for its receipts to find


def test_its_error_table_decides_whose_fault_a_refusal_is(registered, twilio_standin):
    registered.fail_with(422, {"errors": [{"code": 21, "description": "invalid recipient"}]})
    refused = UnifiedMessagingService().send_sms(NUMBER, "Your code is 123456")
    registered.fail_with(500, {"errors": [{"code": 1, "description": "internal error"}]})
    failed_over = UnifiedMessagingService().send_sms(NUMBER, "Your code is 654321")

    refused_log = CommunicationLog.objects.get(message_id=refused["message_id"])
    assert refused_log.status == MessageStatus.FAILED
    assert list(refused_log.attempts.values_list("provider", "outcome")) == [
        ("smsbird", AttemptOutcome.RECIPIENT_FAULT)
    ]
    assert (failed_over["success"], failed_over["provider"]) == (True, "twilio")
    assert len(twilio_standin.messages) == 1  # the recipient's fault stopped the chain; the provider's did not


def test_health_shows_it_with_its_label_and_receipts(client, registered):
    body = client.get("/health/messaging").json()

    [first, second] = body["sms_providers"]
    assert (first["name"], first["priority"], first["configured"], first["is_healthy"]) == (
        "SmsBirdProvider", "PRIMARY", True, True,
    )  # fmt: skip
    assert first["receipts"] == {"expected": True}
    assert second["name"] == "TwilioProvider"
    assert body["active_providers"]["sms"] == "SMSService (SMS Bird)"


def test_metrics_carry_its_name_its_breaker_and_its_quota(client, settings, registered):
    settings.METRICS_TOKEN = TOKEN
    before = scrape(client)

    UnifiedMessagingService().send_sms(NUMBER, "Your code is 123456")
    after = scrape(client)

    sent = {"provider": "smsbird", "outcome": "sent"}
    assert (
        after.value("messaging_provider_attempts_total", **sent)
        - before.value("messaging_provider_attempts_total", **sent)
        == 1
    )
    assert "smsbird" in {s.labels.get("provider") for s in after.samples if s.name == "messaging_breaker_state"}
    assert after.value("messaging_breaker_state", provider="smsbird") == 0
    assert after.value("messaging_provider_quota_limit", provider="smsbird", period="day") == 1000
    assert after.value("messaging_provider_quota_used", provider="smsbird", period="day") == 1


def test_the_breakers_command_lists_it(registered):
    out = StringIO()
    call_command("messaging_breakers", stdout=out)
    assert [line.split()[:2] for line in out.getvalue().splitlines() if line.startswith("smsbird")] == [
        ["smsbird", "closed"]
    ]


def test_its_webhook_takes_its_signed_receipts_and_refuses_forged_ones(client, registered):
    result = UnifiedMessagingService().send_sms(NUMBER, "Your code is 123456")
    log = CommunicationLog.objects.get(message_id=result["message_id"])

    forged = signed_report(client, {"id": log.provider_message_id, "status": "delivered"}, key="not-our-key")
    assert forged.status_code == 403
    assert CommunicationLog.objects.get(pk=log.pk).status == MessageStatus.SENT

    signed = signed_report(client, {"id": log.provider_message_id, "status": "delivered"})
    assert signed.status_code == 200
    delivered = CommunicationLog.objects.get(pk=log.pk)
    assert delivered.status == MessageStatus.DELIVERED and delivered.receipts.get().provider == "smsbird"


def test_the_worked_example_in_architecture_md_is_this_provider_file_for_file():
    text = (ROOT / "ARCHITECTURE.md").read_text()
    shown = dict(re.findall(r"<!-- file: messaging/providers/smsbird/(\S+) -->\n```python\n(.*?)```", text, re.S))
    package = ROOT / "tests" / "messaging" / "smsbird"
    files = {path.name: path.read_text() for path in package.glob("*.py")}
    assert sorted(shown) == sorted(files)
    for name, code in files.items():
        assert shown[name] == code.replace(PACKAGE, "messaging.providers.smsbird"), name


@pytest.mark.parametrize(
    ("package", "error"),
    [("tests.messaging", "tests.messaging has no PROVIDER"), ("messaging.providers.ses", "two packages name .*'ses'")],
)
def test_a_package_without_an_entry_or_with_a_taken_name_is_refused(settings, package, error):
    settings.MESSAGING_PROVIDER_PACKAGES = [*settings.MESSAGING_PROVIDER_PACKAGES, package]
    with pytest.raises(ImproperlyConfigured, match=f"MESSAGING_PROVIDER_PACKAGES: {error}"):
        registry.validate_chains()
