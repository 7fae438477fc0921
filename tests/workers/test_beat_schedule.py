"""Beat sends the recovery sweep only when the database owes something (and once a minute anyway)."""

from __future__ import annotations

import pickle
from datetime import timedelta

import pytest
from celery.schedules import schedule
from django.utils import timezone

from messaging.models import CommunicationLog
from otp.lifecycle import CodeRequest, issue_code
from otp.recovery import anything_lost, recover_undelivered_codes
from otpsite.beat import WhenOwed

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def sweep_schedule(check: str = "otp.recovery.anything_lost") -> WhenOwed:
    return WhenOwed(5.0, nowfun=lambda: NOW, check=check, idle_every=60.0)


def accepted_code(*, at) -> CommunicationLog:
    request = CodeRequest(tenant_id="default", recipient="owed@example.com", channel="email", purpose="signup")
    otp = issue_code(request, now=at, enqueue=lambda otp_id: None)
    log = CommunicationLog.objects.get(one_time_code__id=otp.id)
    CommunicationLog.objects.filter(pk=log.pk).update(created_at=at)
    return log


def test_with_nothing_owed_the_sweep_is_not_sent_until_a_minute_has_passed():
    beat = sweep_schedule()

    assert beat.is_due(NOW - timedelta(seconds=6)).is_due is False
    assert beat.is_due(NOW - timedelta(seconds=59)).is_due is False
    assert beat.is_due(NOW - timedelta(seconds=60)).is_due is True


def test_a_lost_code_sends_the_sweep_at_the_usual_interval(settings):
    accepted_code(at=NOW - timedelta(seconds=settings.OTP_RECOVERY_GRACE_SECONDS + 1))
    beat = sweep_schedule()

    assert beat.is_due(NOW - timedelta(seconds=2)).is_due is False  # not due yet in any case
    assert beat.is_due(NOW - timedelta(seconds=6)).is_due is True


def test_a_code_within_its_grace_period_is_not_yet_lost(settings):
    accepted_code(at=NOW - timedelta(seconds=settings.OTP_RECOVERY_GRACE_SECONDS - 2))

    assert anything_lost(now=NOW) is False
    assert anything_lost(now=NOW + timedelta(seconds=3)) is True


def test_whenever_the_check_says_nothing_is_lost_the_sweep_would_do_nothing(settings):
    accepted_code(at=NOW - timedelta(seconds=settings.OTP_RECOVERY_GRACE_SECONDS - 2))
    published: list[str] = []

    assert anything_lost(now=NOW) is False
    result = recover_undelivered_codes(now=NOW, publish=published.append)

    assert (result.republished, result.settled_stale, published) == (0, 0, [])


def test_a_failing_check_sends_the_sweep():
    beat = sweep_schedule(check="otpsite.no_such_module.check")

    assert beat.is_due(NOW - timedelta(seconds=6)).is_due is True


def test_the_schedule_survives_beats_schedule_file_and_replaces_a_plain_entry():
    beat = sweep_schedule()

    copy = pickle.loads(pickle.dumps(beat))

    assert (copy.run_every, copy.check, copy.idle_every) == (beat.run_every, beat.check, beat.idle_every)
    assert schedule(5.0) != beat and beat != schedule(5.0)


def test_the_beat_schedule_sends_the_sweep_this_way():
    from otpsite.celery import app

    entry = app.conf.beat_schedule["recover-undelivered-codes"]
    assert isinstance(entry["schedule"], WhenOwed)
    assert entry["schedule"].check == "otp.recovery.anything_lost"
