"""Issuing and verifying in the database: expiry, single use, binding, attempts, concurrency."""

from __future__ import annotations

import base64
import json
import threading
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.codes import hash_code
from otp.lifecycle import CodeRequest, issue_code, verify_code
from otp.models import OneTimeCode

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")


def issue_known_code(code: str, *, request: CodeRequest = REQUEST, now=None) -> OneTimeCode:
    """Issue a code as the API does, then store `code`'s hash as the worker would."""
    otp = issue_code(request, now=now or timezone.now(), enqueue=lambda otp_id: None)
    OneTimeCode.objects.filter(pk=otp.pk).update(code_hash=hash_code(code, otp_id=str(otp.pk)))
    return otp


@pytest.mark.django_db
def test_a_code_is_accepted_at_nine_minutes_59_and_refused_at_ten_minutes():
    start = timezone.now()
    issue_known_code("123456", now=start)

    assert not verify_code(REQUEST, "123456", now=start + timedelta(seconds=600))
    assert verify_code(REQUEST, "123456", now=start + timedelta(seconds=599))


@pytest.mark.django_db
def test_a_code_verifies_once_only():
    issue_known_code("123456")

    assert verify_code(REQUEST, "123456", now=timezone.now())
    assert not verify_code(REQUEST, "123456", now=timezone.now())


@pytest.mark.django_db
@pytest.mark.parametrize(
    "other",
    [
        CodeRequest(tenant_id="other", recipient="jane@example.com", channel="email", purpose="login"),
        CodeRequest(tenant_id="acme", recipient="john@example.com", channel="email", purpose="login"),
        CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="signup"),
    ],
)
def test_a_code_is_bound_to_its_tenant_recipient_and_purpose(other):
    issue_known_code("123456")

    assert not verify_code(other, "123456", now=timezone.now())
    assert verify_code(REQUEST, "123456", now=timezone.now())


@pytest.mark.django_db
def test_a_resend_invalidates_the_older_code():
    issue_known_code("111111")
    issue_known_code("222222")

    assert not verify_code(REQUEST, "111111", now=timezone.now())
    assert verify_code(REQUEST, "222222", now=timezone.now())


@pytest.mark.django_db
def test_a_code_dies_after_five_wrong_guesses():
    issue_known_code("123456")

    for guess in ["000001", "000002", "000003", "000004", "000005"]:
        assert not verify_code(REQUEST, guess, now=timezone.now())

    assert not verify_code(REQUEST, "123456", now=timezone.now())
    assert OneTimeCode.objects.get().attempts == settings.OTP_MAX_ATTEMPTS


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_verifies_of_the_right_code_give_exactly_one_success():
    issue_known_code("123456")
    results: list[bool] = []
    barrier = threading.Barrier(20)

    def verify() -> None:
        try:
            barrier.wait()
            results.append(verify_code(REQUEST, "123456", now=timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=verify) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False] * 19 + [True]


def broker_queue_length() -> int:
    return int(redis.Redis.from_url(settings.CELERY_BROKER_URL).llen(settings.CELERY_QUEUE_DELIVERY))


@pytest.mark.django_db(transaction=True)
def test_a_request_whose_transaction_rolls_back_enqueues_nothing():
    from otp.api import enqueue_delivery

    redis.Redis.from_url(settings.CELERY_BROKER_URL).delete(settings.CELERY_QUEUE_DELIVERY)

    with pytest.raises(RuntimeError), transaction.atomic():
        issue_code(REQUEST, now=timezone.now(), enqueue=enqueue_delivery)
        raise RuntimeError("the request failed after issuing")

    assert broker_queue_length() == 0
    assert OneTimeCode.objects.count() == 0
    assert CommunicationLog.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_committed_request_enqueues_one_task_that_names_only_the_code_id():
    from otp.api import enqueue_delivery

    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(settings.CELERY_QUEUE_DELIVERY)

    otp = issue_code(REQUEST, now=timezone.now(), enqueue=enqueue_delivery)

    assert broker_queue_length() == 1
    message = json.loads(client.lindex(settings.CELERY_QUEUE_DELIVERY, 0))
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == ([str(otp.pk)], {})
    assert CommunicationLog.objects.get().status == MessageStatus.QUEUED
    client.delete(settings.CELERY_QUEUE_DELIVERY)


@pytest.mark.django_db
def test_issuing_stores_the_rows_it_returns_and_a_resend_replaces_every_earlier_live_code():
    now = timezone.now()
    used = issue_known_code("111111", now=now - timedelta(seconds=3))
    assert verify_code(REQUEST, "111111", now=now)
    earlier = [issue_code(REQUEST, now=now - timedelta(seconds=s), enqueue=lambda otp_id: None) for s in (2, 1)]
    # Two live codes at once, as two concurrent sends can leave them.
    OneTimeCode.objects.filter(pk__in=[e.pk for e in earlier]).update(invalidated_at=None)
    other_purpose = issue_code(
        CodeRequest("acme", REQUEST.recipient, "email", "signup"), now=now, enqueue=lambda otp_id: None
    )

    latest = issue_code(REQUEST, now=now, enqueue=lambda otp_id: None)

    stored = OneTimeCode.objects.select_related("log").get(pk=latest.pk)
    assert (stored.tenant_id, stored.recipient, stored.channel, stored.purpose) == (
        "acme",
        REQUEST.recipient,
        "email",
        "login",
    )
    assert (stored.created_at, stored.expires_at) == (now, now + timedelta(seconds=settings.OTP_TTL_SECONDS))
    assert (stored.code_hash, stored.attempts, stored.used_at, stored.invalidated_at) == ("", 0, None, None)
    assert stored.log_id == latest.log_id == latest.log.pk
    assert stored.log.message_id == latest.log.message_id and stored.log.created_at == latest.log.created_at
    assert (stored.log.status, stored.log.metadata) == (MessageStatus.QUEUED, {"tenant_id": "acme", "kind": "otp"})
    replaced = OneTimeCode.objects.filter(pk__in=[e.pk for e in earlier], invalidated_at=now)
    assert replaced.count() == 2
    assert OneTimeCode.objects.get(pk=used.pk).invalidated_at is None  # used, not replaced
    assert OneTimeCode.objects.get(pk=other_purpose.pk).invalidated_at is None


@pytest.mark.django_db
def test_a_code_issued_for_another_tenant_leaves_this_tenants_live_code_alone():
    now = timezone.now()
    mine = issue_known_code("123456", now=now - timedelta(seconds=5))
    other_tenant = CodeRequest("globex", REQUEST.recipient, REQUEST.channel, REQUEST.purpose)

    theirs = issue_code(other_tenant, now=now, enqueue=lambda otp_id: None)

    assert OneTimeCode.objects.get(pk=mine.pk).invalidated_at is None
    assert OneTimeCode.objects.get(pk=theirs.pk).invalidated_at is None
    assert verify_code(REQUEST, "123456", now=now) is True
