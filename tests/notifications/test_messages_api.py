"""POST /api/v1/messages, GET one, list: validation, tenant isolation, pagination (no worker)."""

from __future__ import annotations

import pytest

from messaging.models import CommunicationLog, MessageStatus
from notifications.models import Message
from tests.notifications.conftest import EMAIL, MESSAGES_URL, SMS

pytestmark = pytest.mark.django_db


def test_an_inline_email_is_accepted_queued_and_readable_by_its_link(acme):
    response = acme.send({**EMAIL, "reference": "order-123", "metadata": {"order": 123}})

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["links"]["self"] == f"{MESSAGES_URL}/{body['id']}"
    shown = acme.get(body["links"]["self"]).json()
    assert (shown["id"], shown["status"], shown["to"], shown["reference"]) == (
        body["id"], "queued", "jane@example.com", "order-123")  # fmt: skip
    assert shown["metadata"] == {"order": 123} and shown["attempts"] == [] and shown["cost"] is None
    log = CommunicationLog.objects.get()
    assert log.metadata == {"tenant_id": "acme", "kind": "message"} and log.status == MessageStatus.QUEUED


def test_an_sms_counts_its_segments_when_accepted(acme):
    long_german = "Ihr Paket wird heute versandt. Größe: " + "x" * 40  # ö and ß are GSM-7; 78 chars: one segment
    with_emoji = "Ihr Paket kommt heute 🚚 " + "x" * 60  # one non-GSM character: UCS-2, 86 units: two segments

    first = acme.get(acme.send({**SMS, "body": long_german}).json()["links"]["self"]).json()
    second = acme.get(acme.send({**SMS, "body": with_emoji}).json()["links"]["self"]).json()

    assert (first["segments"], first["encoding"]) == (1, "GSM-7")
    assert (second["segments"], second["encoding"]) == (2, "UCS-2")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**EMAIL, "to": "not-an-address"}, "to"),
        ({**SMS, "to": "4155550123"}, "to"),
        ({**EMAIL, "body": "sms text"}, "body"),
        ({**SMS, "subject": "x"}, "subject"),
        ({"channel": "email", "to": "jane@example.com", "text": "no subject"}, "subject"),
        ({"channel": "sms", "to": "+14155550123"}, "body"),
        ({**SMS, "metadata": {"nested": {"a": 1}}}, "metadata"),
        ({**SMS, "metadata": {"a": "nul\x00"}}, "metadata"),
        ({**SMS, "personalisation": {"a": [1]}}, "personalisation"),
        ({**SMS, "channel": "fax"}, "channel"),
    ],
)
def test_bad_input_gets_400_naming_the_field_and_nothing_is_queued(acme, body, field):
    response = acme.send(body)

    assert response.status_code == 400 and field in response.json(), response.json()
    assert not Message.objects.exists() and not CommunicationLog.objects.exists()


def test_without_a_key_every_endpoint_answers_401(client, acme):
    message_url = acme.send(EMAIL).json()["links"]["self"]

    assert client.post(MESSAGES_URL, EMAIL, content_type="application/json").status_code == 401
    assert client.get(MESSAGES_URL).status_code == 401
    assert client.get(message_url).status_code == 401
    assert client.get(message_url, HTTP_AUTHORIZATION="Api-Key otpk_nope_nope").status_code == 401


def test_another_tenants_key_sees_404_for_the_message_and_an_empty_list(acme, globex):
    message_url = acme.send({**EMAIL, "reference": "r1"}).json()["links"]["self"]

    assert globex.get(message_url).status_code == 404
    assert globex.get(MESSAGES_URL).json()["results"] == []
    assert globex.get(MESSAGES_URL, reference="r1").json()["results"] == []
    assert acme.get(message_url).status_code == 200


def test_the_list_filters_by_reference_and_status_and_pages_with_a_cursor(acme):
    ids = [acme.send({**EMAIL, "reference": f"order-{i % 2}"}).json()["id"] for i in range(5)]
    CommunicationLog.objects.filter(tenant_message__log__message_id=ids[0]).update(status=MessageStatus.SENT)

    first = acme.get(MESSAGES_URL, page_size=2).json()
    second = acme.client.get(first["next"], **acme.headers()).json()
    third = acme.client.get(second["next"], **acme.headers()).json()
    by_reference = acme.get(MESSAGES_URL, reference="order-1").json()["results"]
    sent = acme.get(MESSAGES_URL, status="sent").json()["results"]

    assert [m["id"] for m in first["results"] + second["results"] + third["results"]] == ids[::-1]
    assert third["next"] is None
    assert [m["id"] for m in by_reference] == [ids[3], ids[1]]
    assert [m["id"] for m in sent] == [ids[0]]
    assert acme.get(MESSAGES_URL, status="lost").status_code == 400
    assert acme.get(MESSAGES_URL, cursor="garbage").status_code == 404


def test_a_large_inline_email_is_accepted_up_to_the_messages_cap(acme, settings):
    html = "<p>" + "a" * 20000 + "</p>"

    assert acme.send({**EMAIL, "html": html}).status_code == 202
    settings.MESSAGES_MAX_BODY_BYTES = 10000
    assert acme.send({**EMAIL, "html": html}).status_code == 413


def test_the_sweep_publishes_a_message_whose_task_was_lost_once_per_grace_period(acme, settings):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.recovery import recover_queued_messages

    acme.send(EMAIL)
    message = Message.objects.get()
    published: list[int] = []
    now = timezone.now()
    later = now + timedelta(seconds=settings.OTP_RECOVERY_GRACE_SECONDS + 1)

    assert recover_queued_messages(now=now, publish=published.append) == 0
    assert recover_queued_messages(now=later, publish=published.append) == 1
    assert recover_queued_messages(now=later + timedelta(seconds=1), publish=published.append) == 0
    assert published == [message.pk]
