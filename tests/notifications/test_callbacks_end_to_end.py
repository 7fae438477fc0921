"""The whole story with a real worker: a templated email in French and an SMS through the chain, a
receipt, signed callbacks, Idempotency-Key replays; and a dead callback endpoint delays nothing."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import MessageStatus
from messaging.templating import store
from messaging.templating.models import MessageTemplate
from notifications.models import CallbackDelivery, CallbackStatus, Message
from notifications.tasks import dispatch_due_callbacks
from tests.helpers import wait_for
from tests.notifications.conftest import EMAIL, SMS, settled, twilio_says
from tests.notifications.test_callbacks import register, verify_standard_webhook
from tests.standins.callbacks import CallbackReceiver, header

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

FRENCH = {"subject": "Votre reçu ((order))", "text": "Merci ((name)) : ((total)) €", "html": "<p>Merci ((name))</p>"}


@pytest.fixture
def receiver():
    standin = CallbackReceiver().start()
    yield standin
    standin.stop()


def events(requests) -> list[tuple[str, str]]:
    return sorted((json.loads(r.body)["type"], json.loads(r.body)["data"]["channel"]) for r in requests)


def test_a_french_templated_email_and_an_sms_reach_their_providers_and_signed_callbacks_follow(
    acme, worker, smtp_sink, twilio_standin, receiver, settings
):
    secret = register(acme, receiver.url + "/hooks")["secret"]
    store.add_version(MessageTemplate(tenant="acme", name="receipt", channel="email", locale="fr", **FRENCH))
    email = {"channel": "email", "to": "zoe@example.com", "template": "receipt", "locale": "fr",
             "personalisation": {"order": "A-1", "name": "<Zoë>", "total": 12.5}}  # fmt: skip

    first = acme.send(email, HTTP_IDEMPOTENCY_KEY="order-A-1")
    replayed = acme.send(email, HTTP_IDEMPOTENCY_KEY="order-A-1")
    different = acme.send({**email, "to": "other@example.com"}, HTTP_IDEMPOTENCY_KEY="order-A-1")
    sms_url = acme.send({**SMS, "body": "Votre colis A-1 arrive aujourd'hui."}).json()["links"]["self"]

    assert (first.status_code, replayed.status_code, different.status_code) == (202, 202, 422)
    assert replayed["Idempotent-Replayed"] == "true" and replayed.json() == first.json()
    [received] = smtp_sink.wait_for(1)
    assert received["Subject"] == "Votre reçu A-1"
    assert received.get_body(("plain",)).get_content().strip() == "Merci <Zoë> : 12,5 €"
    assert "<p>Merci &lt;Zoë&gt;</p>" in received.get_body(("html",)).get_content()
    settled(acme, sms_url, MessageStatus.SENT)
    sms_log = Message.objects.get(channel="sms").log
    assert twilio_says(settings, sms_log.provider_message_id, "delivered") == 200
    delivered = settled(acme, sms_url, MessageStatus.DELIVERED)

    callbacks = receiver.wait_for(3)
    assert events(callbacks) == [("message.delivered", "sms"), ("message.sent", "email"), ("message.sent", "sms")]
    assert all(verify_standard_webhook(secret, r.headers, r.body) for r in callbacks)
    assert not verify_standard_webhook(secret.replace(secret[8], "A" if secret[8] != "A" else "B"),
                                       callbacks[0].headers, callbacks[0].body)  # fmt: skip
    last = json.loads(next(r.body for r in callbacks if b"message.delivered" in r.body))["data"]
    assert (last["id"], last["status"], last["provider"]) == (delivered["id"], "delivered", "twilio")
    # The replay sent nothing: one email, one message per request that was not a replay.
    assert Message.objects.count() == 2 and len(smtp_sink.messages) == 1 and len(twilio_standin.messages) == 1


def test_an_endpoint_that_never_answers_delays_nothing_and_is_disabled_after_a_day(
    acme, globex, worker, smtp_sink, receiver
):
    dead = CallbackReceiver()
    dead.hang()
    dead.start()
    try:
        register(acme, dead.url + "/hooks")
        register(globex, receiver.url + "/hooks")
        acme.send(EMAIL)
        dead.wait_for(1)  # a worker is now held by the dead endpoint, until its timeout
        globex.send(EMAIL)

        # While that attempt hangs (8 s timeout), the other tenant's message is delivered and its callback arrives.
        smtp_sink.wait_for(2)
        [callback] = receiver.wait_for(1)
        still_hanging = CallbackDelivery.objects.filter(endpoint__tenant=acme.tenant, attempts=0).exists()
        assert still_hanging and len(dead.requests) == 1 and json.loads(callback.body)["type"] == "message.sent"

        delivery = wait_for(lambda: CallbackDelivery.objects.filter(endpoint__tenant=acme.tenant, attempts=1).first(),
                            what="the dead endpoint's first attempt to time out")  # fmt: skip
        # A day passes and its retry falls due (the clock is set, not waited for): beat's sweep, run by
        # the worker, publishes it; that attempt times out too and is the last.
        day_ago = timezone.now() - timedelta(hours=24)
        CallbackDelivery.objects.filter(pk=delivery.pk).update(created_at=day_ago, next_attempt_at=timezone.now())
        dispatch_due_callbacks.delay()
        failed = wait_for(lambda: CallbackDelivery.objects.filter(pk=delivery.pk, status=CallbackStatus.FAILED).first(),
                          what="the dead endpoint's delivery to be given up")  # fmt: skip
    finally:
        dead.stop()

    endpoint = failed.endpoint
    assert not endpoint.enabled and endpoint.disabled_reason.startswith("no 2xx answer for message.sent")
    assert [a.error for a in failed.attempt_rows.all()] == ["ReadTimeout", "ReadTimeout"]
    assert {header(r, "webhook-id") for r in dead.requests} == {failed.webhook_id}
