"""Status callbacks: registration, URL checks, Standard Webhooks signatures, backoff, giving up, replay."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from notifications.callbacks import dispatch
from notifications.callbacks.addresses import UrlRefused, check_url
from notifications.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint, CallbackStatus
from tests.standins.callbacks import CallbackReceiver, header

pytestmark = pytest.mark.django_db
CALLBACKS_URL = "/api/v1/callbacks"


def verify_standard_webhook(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The Standard Webhooks reference verification, written from the specification, independently."""
    key = base64.b64decode(secret.split("_", 1)[1])
    lowered = {name.lower(): value for name, value in headers.items()}
    signed = f"{lowered['webhook-id']}.{lowered['webhook-timestamp']}.{body.decode()}".encode()
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = [part.split(",", 1) for part in lowered["webhook-signature"].split(" ")]
    return any(version == "v1" and hmac.compare_digest(value, expected) for version, value in signatures)


@pytest.fixture
def receiver():
    standin = CallbackReceiver().start()
    yield standin
    standin.stop()


def register(tenant_client, url: str, **fields) -> dict:
    response = tenant_client.client.post(CALLBACKS_URL, {"url": url, **fields}, content_type="application/json",
                                         **tenant_client.headers())  # fmt: skip
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize(
    "url",
    ["http://example.com/hook", "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://[::1]/hook",
     "https://169.254.169.254/latest", "https://localhost/hook", "https://user:pw@example.com/hook"],
)  # fmt: skip
def test_plain_http_private_and_loopback_urls_are_refused_unless_a_setting_allows_them(url, settings):
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(UrlRefused):
        check_url(url)


def accepted(url: str) -> bool:
    try:
        check_url(url)
    except UrlRefused:
        return False
    return True


def test_the_setting_allows_a_local_http_endpoint_and_a_public_https_one_passes(settings):
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = False
    assert accepted("https://93.184.215.14/hook")
    assert not accepted("http://127.0.0.1:8080/hook")
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = True
    assert accepted("http://127.0.0.1:8080/hook")


def test_registering_shows_the_secret_once_and_another_tenant_sees_404(acme, globex, settings):
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = False
    refused = acme.client.post(CALLBACKS_URL, {"url": "https://127.0.0.1/x"}, content_type="application/json",
                               **acme.headers())  # fmt: skip
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = True
    made = register(acme, "http://127.0.0.1:9/hook", events=["message.delivered"])
    url = f"{CALLBACKS_URL}/{made['id']}"

    assert refused.status_code == 400 and "private" in refused.json()["url"][0]
    assert made["secret"].startswith("whsec_") and len(base64.b64decode(made["secret"][6:])) == 24
    assert "secret" not in acme.get(url).json() and acme.get(url).json()["events"] == ["message.delivered"]
    assert globex.get(url).status_code == 404 and globex.get(CALLBACKS_URL).json()["results"] == []
    assert globex.client.delete(url, **globex.headers()).status_code == 404
    assert acme.client.delete(url, **acme.headers()).status_code == 204
    assert not CallbackEndpoint.objects.exists()


def event_for(acme, receiver, settings) -> tuple[CallbackEndpoint, CallbackDelivery]:
    settings.CALLBACKS_ALLOW_PRIVATE_URLS = True
    made = register(acme, receiver.url + "/hook")
    [pk] = dispatch.enqueue_event(acme.tenant, "message.sent", {"id": "m-1"}, publish=lambda pk, due: None)
    return CallbackEndpoint.objects.get(uid=made["id"]), CallbackDelivery.objects.get(pk=pk)


def test_an_event_is_signed_as_standard_webhooks_says(acme, receiver, settings):
    endpoint, delivery = event_for(acme, receiver, settings)

    assert dispatch.attempt(delivery.pk, due_at=timezone.now()) == "succeeded"
    [request] = receiver.requests
    assert verify_standard_webhook(endpoint.secret, request.headers, request.body)
    assert not verify_standard_webhook(endpoint.secret, request.headers, request.body.replace(b"m-1", b"m-2"))
    assert header(request, "webhook-id") == delivery.webhook_id
    assert abs(int(header(request, "webhook-timestamp")) - timezone.now().timestamp()) < 60
    assert json.loads(request.body) == {"type": "message.sent", "timestamp": delivery.payload["timestamp"],
                                        "data": {"id": "m-1"}}  # fmt: skip


def run_due(at: datetime) -> list[str]:
    """The beat sweep at time `at`, running what it publishes at once (as a worker would)."""
    outcomes: list[str] = []
    dispatch.dispatch_due(now=at, publish=lambda pk, due: outcomes.append(dispatch.attempt(
        pk, due_at=datetime.fromisoformat(due))))  # fmt: skip
    return outcomes


def test_an_endpoint_failing_three_times_gets_the_event_once_at_the_end_after_growing_delays(acme, settings):
    receiver = CallbackReceiver([500, 503, 502]).start()
    try:
        _, delivery = event_for(acme, receiver, settings)
        assert dispatch.attempt(delivery.pk, due_at=timezone.now()) == "retry"
        for _ in range(3):
            due = CallbackDelivery.objects.get(pk=delivery.pk).next_attempt_at
            assert run_due(due - timedelta(seconds=1)) == []  # not yet due: nothing is sent
            run_due(due)
        later = run_due(timezone.now() + timedelta(days=1))
    finally:
        receiver.stop()

    attempts = list(CallbackAttempt.objects.filter(delivery=delivery))
    assert [a.status_code for a in attempts] == [500, 503, 502, 204] and later == []
    delays = [a.retry_in_seconds for a in attempts[:3]]
    assert delays[0] < delays[1] < delays[2] and attempts[3].retry_in_seconds is None
    assert {header(r, "webhook-id") for r in receiver.requests} == {delivery.webhook_id}
    assert CallbackDelivery.objects.get(pk=delivery.pk).status == CallbackStatus.SUCCEEDED


def test_an_endpoint_failing_for_24_hours_is_disabled_with_a_notice_and_gets_nothing_more(acme, admin_client, settings):
    receiver = CallbackReceiver([500] * 100).start()
    try:
        endpoint, delivery = event_for(acme, receiver, settings)
        dispatch.attempt(delivery.pk, due_at=timezone.now())
        # A day passes (the clock is set, not waited for): the next failure is the last.
        CallbackDelivery.objects.filter(pk=delivery.pk).update(created_at=timezone.now() - timedelta(hours=24))
        assert run_due(timezone.now() + timedelta(hours=1)) == ["failed"]
        dispatch.enqueue_event(acme.tenant, "message.sent", {"id": "m-2"}, publish=lambda pk, due: None)
        sent = len(receiver.requests)
    finally:
        receiver.stop()

    endpoint.refresh_from_db()
    assert not endpoint.enabled and "no 2xx" in endpoint.disabled_reason
    assert CallbackDelivery.objects.get(pk=delivery.pk).status == CallbackStatus.FAILED
    assert sent == 2 and CallbackDelivery.objects.count() == 1  # a disabled endpoint gets no new deliveries
    page = admin_client.get("/admin/notifications/callbackendpoint/", follow=True).content.decode()
    assert f"Disabled: acme: {endpoint.url}" in page


def test_the_admin_shows_each_attempt_and_can_replay_a_delivery(
    acme, receiver, admin_client, settings, django_capture_on_commit_callbacks
):
    _, delivery = event_for(acme, receiver, settings)
    dispatch.attempt(delivery.pk, due_at=timezone.now())
    published: list[int] = []
    from notifications import tasks

    original = tasks.publish_callback
    tasks.publish_callback = lambda pk, due: published.append(pk)  # the admin's publish, seen in-process
    try:
        page = admin_client.get(f"/admin/notifications/callbackdelivery/{delivery.pk}/change/").content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            admin_client.post("/admin/notifications/callbackdelivery/",
                              {"action": "replay_deliveries", "_selected_action": [delivery.pk]})  # fmt: skip
    finally:
        tasks.publish_callback = original

    assert "204" in page and published == [delivery.pk]
    assert dispatch.attempt(delivery.pk, due_at=timezone.now()) == "succeeded"
    assert len(receiver.requests) == 2 and {header(r, "webhook-id") for r in receiver.requests} == {delivery.webhook_id}


def test_a_verified_code_is_announced_as_otp_verified_to_the_tenants_endpoint(
    acme, settings, smtp_sink, monkeypatch, django_capture_on_commit_callbacks
):
    from notifications import tasks
    from otp.delivery import deliver_one_time_code
    from otp.models import OneTimeCode
    from tests.helpers import SEND_URL, VERIFY_URL, code_in

    settings.CALLBACKS_ALLOW_PRIVATE_URLS = True
    register(acme, "http://127.0.0.1:9/hook", events=["otp.verified"])
    published: list[int] = []
    monkeypatch.setattr(tasks, "publish_callback", lambda pk, due: published.append(pk))
    body = {"email": "jane@example.com", "purpose": "login"}
    acme.client.post(SEND_URL, body, content_type="application/json", **acme.headers())
    deliver_one_time_code(str(OneTimeCode.objects.get().pk), retries=0, lease_seconds=90)
    code = code_in(smtp_sink.wait_for(1)[0].get_body(("plain",)).get_content())

    with django_capture_on_commit_callbacks(execute=True):
        verified = acme.client.post(VERIFY_URL, {**body, "code": code}, content_type="application/json",
                                    **acme.headers())  # fmt: skip

    [delivery] = CallbackDelivery.objects.all()
    assert verified.status_code == 200 and published == [delivery.pk]
    assert delivery.payload["type"] == "otp.verified" and code not in json.dumps(delivery.payload)
    assert {k: delivery.payload["data"][k] for k in ("channel", "recipient", "purpose")} == {
        "channel": "email", "recipient": "jane@example.com", "purpose": "login"}  # fmt: skip
