"""Each rule on codes and log rows has one text: the queryset and the one-statement SQL agree."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.claim import CLAIMABLE, LIVE
from otp.delivery import deliver_one_time_code
from otp.lifecycle import REPLACED, CodeRequest, issue_code
from otp.models import OneTimeCode

pytestmark = pytest.mark.django_db

REQUEST = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
LEASE = 90.0


def issued(request: CodeRequest = REQUEST) -> OneTimeCode:
    return issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)


def selected_by(where, table: str, **values) -> set:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT id FROM "{table}" WHERE {where.sql}', where.params(**values))
        return {row[0] for row in cursor.fetchall()}


def test_a_code_that_expired_before_its_worker_claimed_it_is_not_sent(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    otp = issued()
    OneTimeCode.objects.filter(pk=otp.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)

    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (step.done, step.reason) == (True, "stale")
    assert (log.status, log.error_message) == (MessageStatus.FAILED, "code replaced or expired before delivery")
    assert smtp_sink.messages == []
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == ""


def test_live_codes_are_the_same_rows_for_the_queryset_and_the_claims_sql():
    now = timezone.now()
    live = issued()
    used, replaced, expired = (issued(CodeRequest("acme", f"{n}@example.com", "email", "login")) for n in "abc")
    issued(CodeRequest("acme", "b@example.com", "email", "login"))  # replaces `replaced`
    OneTimeCode.objects.filter(pk=used.pk).update(used_at=now)
    OneTimeCode.objects.filter(pk=expired.pk).update(expires_at=now - timedelta(seconds=1))

    by_queryset = set(OneTimeCode.objects.live(now).values_list("pk", flat=True))

    assert live.pk in by_queryset and not {used.pk, replaced.pk, expired.pk} & by_queryset
    assert selected_by(LIVE, "otp_codes", now=now) == by_queryset


def test_the_codes_a_new_one_replaces_are_the_unspent_ones_of_its_request_in_both():
    replaced = issued()
    used = issued()
    OneTimeCode.objects.filter(pk=used.pk).update(used_at=timezone.now())
    current = issued()
    other_tenant = issued(CodeRequest("globex", REQUEST.recipient, "email", "login"))

    by_sql = selected_by(
        REPLACED, "otp_codes", tenant_id=REQUEST.tenant_id, recipient=REQUEST.recipient, purpose=REQUEST.purpose
    )

    unspent = OneTimeCode.objects.filter(tenant_id="acme", recipient=REQUEST.recipient, purpose="login").unspent()
    assert by_sql == set(unspent.values_list("pk", flat=True)) == {current.pk}
    assert not {replaced.pk, used.pk, other_tenant.pk} & by_sql


def test_claimable_log_rows_are_the_same_for_the_queryset_and_the_claims_sql():
    now = timezone.now()
    rows = {
        name: CommunicationLog.objects.create(recipient=f"{name}@example.com", channel="email", **fields)
        for name, fields in {
            "queued": {"status": MessageStatus.QUEUED},
            "held": {"status": MessageStatus.SENDING, "claimed_at": now - timedelta(seconds=LEASE - 5)},
            "abandoned": {"status": MessageStatus.SENDING, "claimed_at": now - timedelta(seconds=LEASE + 5)},
            "sent": {"status": MessageStatus.SENT, "claimed_at": now - timedelta(seconds=LEASE + 5)},
        }.items()
    }

    by_queryset = set(CommunicationLog.objects.claimable(now=now, lease_seconds=LEASE).values_list("pk", flat=True))

    assert by_queryset == {rows["queued"].pk, rows["abandoned"].pk}
    assert selected_by(CLAIMABLE, "communication_logs", lease_start=now - timedelta(seconds=LEASE)) == by_queryset
