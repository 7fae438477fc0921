"""Idempotency-Key on POST /api/v1/messages and on the OTP send (Stripe's semantics)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from datetime import timedelta

import pytest

from messaging.models import CommunicationLog
from notifications.models import Message
from otp.models import OneTimeCode
from otpsite.idempotency.models import IdempotencyRecord, RecordState
from otpsite.idempotency.store import fingerprint
from tests.helpers import SEND_URL
from tests.notifications.conftest import EMAIL, MESSAGES_URL, SMS

KEY = "order-123-receipt"


@pytest.mark.django_db
def test_the_same_key_and_body_replays_the_first_answer_and_makes_nothing_new(acme):
    first = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)
    again = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)

    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Message.objects.count() == CommunicationLog.objects.count() == 1


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_gets_422_and_makes_nothing(acme):
    acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)
    # Key order and spacing do not matter (canonical JSON); a changed value does.
    reordered_body = json.dumps(dict(reversed(list(EMAIL.items()))), indent=2)
    headers = acme.headers({"HTTP_IDEMPOTENCY_KEY": KEY})
    reordered = acme.client.post(MESSAGES_URL, reordered_body, content_type="application/json", **headers)
    changed = acme.send({**EMAIL, "subject": "Another"}, HTTP_IDEMPOTENCY_KEY=KEY)

    assert reordered.status_code == 202 and reordered["Idempotent-Replayed"] == "true"
    assert changed.status_code == 422 and "different request body" in changed.json()["detail"]
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_no_key_makes_a_new_message_each_time_and_keys_are_scoped_per_api_key(acme, globex):
    acme.send(EMAIL)
    acme.send(EMAIL)
    acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)
    other = globex.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)

    assert other.status_code == 202 and "Idempotent-Replayed" not in other
    assert Message.objects.filter(tenant=acme.tenant).count() == 3
    assert Message.objects.filter(tenant=globex.tenant).count() == 1


@pytest.mark.django_db
def test_a_key_is_new_again_after_24_hours(acme, settings):
    first = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY).json()
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get().created_at - timedelta(hours=24))

    again = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)

    assert again.status_code == 202 and again.json()["id"] != first["id"]
    assert "Idempotent-Replayed" not in again


@pytest.mark.django_db
def test_keys_up_to_255_characters_are_accepted_and_longer_ones_get_400(acme):
    assert acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY="k" * 255).status_code == 202
    too_long = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert too_long.status_code == 400 and "Idempotency-Key" in too_long.json()
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_a_request_still_in_flight_gets_409_and_one_whose_process_died_is_taken_over(acme, settings):
    from django.utils import timezone

    from otpsite.idempotency.store import scope_of

    body = json.loads(json.dumps(EMAIL))
    scope = scope_of(caller=f"ApiKey:{acme.tenant.api_keys.get().pk}", method="POST", path=MESSAGES_URL, key=KEY)
    IdempotencyRecord.objects.create(scope=scope, fingerprint=fingerprint(body), created_at=timezone.now())

    in_flight = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)
    IdempotencyRecord.objects.update(
        created_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS + 1)
    )
    taken_over = acme.send(EMAIL, HTTP_IDEMPOTENCY_KEY=KEY)

    assert in_flight.status_code == 409 and in_flight["Retry-After"] == "1"
    assert taken_over.status_code == 202
    assert IdempotencyRecord.objects.get().state == RecordState.DONE and Message.objects.count() == 1


@pytest.mark.django_db
def test_a_refused_request_does_not_keep_its_key(acme):
    refused = acme.send({**SMS, "to": "not a number"}, HTTP_IDEMPOTENCY_KEY=KEY)
    fixed = acme.send(SMS, HTTP_IDEMPOTENCY_KEY=KEY)

    assert (refused.status_code, fixed.status_code) == (400, 202)
    assert "Idempotent-Replayed" not in fixed


@pytest.mark.django_db
def test_the_otp_send_accepts_a_key_and_a_replay_issues_no_second_code(client):
    body = {"email": "jane@example.com", "purpose": "login"}
    first = client.post(SEND_URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)
    again = client.post(SEND_URL, body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=KEY)
    other = client.post(SEND_URL, {**body, "purpose": "signup"}, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY=KEY)  # fmt: skip

    assert (first.status_code, again.status_code, other.status_code) == (202, 202, 422)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert OneTimeCode.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_requests_with_one_key_make_one_message(acme, live_server):
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(20)

    def post() -> None:
        headers = {"Content-Type": "application/json", "Authorization": f"Api-Key {acme.key}", "Idempotency-Key": KEY}
        request = urllib.request.Request(
            live_server.url + MESSAGES_URL, data=json.dumps(EMAIL).encode(), method="POST", headers=headers
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                answers.append((response.status, json.load(response)))
        except urllib.error.HTTPError as err:
            answers.append((err.code, json.load(err)))

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Message.objects.count() == 1 and CommunicationLog.objects.count() == 1
    assert {status for status, _ in answers} <= {202, 409} and len(answers) == 20
    message_id = str(Message.objects.get().log.message_id)
    assert all(body["id"] == message_id for status, body in answers if status == 202)
