"""Two beats side by side send each periodic job once per period (otpsite/beat.py, LockedScheduler)."""

from __future__ import annotations

import time

import pytest
import redis
from celery.beat import ScheduleEntry
from django.conf import settings as django_settings

from otpsite.beat import LockedScheduler, claim_run
from otpsite.celery import app
from tests.helpers import wait_for


@pytest.fixture
def sweeps_queue():
    """The broker's sweeps queue, as a function answering how many messages wait in it."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.delete(django_settings.CELERY_QUEUE_SWEEPS)
    yield lambda: broker.llen(django_settings.CELERY_QUEUE_SWEEPS)
    broker.delete(django_settings.CELERY_QUEUE_SWEEPS)
    broker.close()


def beat(tmp_path, name: str) -> LockedScheduler:
    return LockedScheduler(app=app, schedule_filename=str(tmp_path / name), lazy=True)


def sweep_entry(seconds: float) -> ScheduleEntry:
    return ScheduleEntry(
        name="recover-undelivered-codes", task="workers.tasks.recover_undelivered_codes", schedule=seconds, app=app
    )


def test_a_due_job_that_two_beats_send_reaches_the_broker_once(tmp_path, sweeps_queue):
    first, second = beat(tmp_path, "first"), beat(tmp_path, "second")

    first.apply_entry(sweep_entry(60.0), producer=first.producer)
    second.apply_entry(sweep_entry(60.0), producer=second.producer)

    assert sweeps_queue() == 1


def test_the_next_period_is_sent_again_by_whichever_beat_comes_first(tmp_path, sweeps_queue):
    first, second = beat(tmp_path, "first"), beat(tmp_path, "second")
    first.apply_entry(sweep_entry(0.3), producer=first.producer)
    claimed_at = time.monotonic()

    wait_for(lambda: claim_run("recover-undelivered-codes", 0.3), timeout=5, what="the lock to lapse")
    lapsed_after = time.monotonic() - claimed_at

    # The lock lives 0.9 of the period: gone before the beat's next run, never long before it.
    assert 0.25 <= lapsed_after < 0.6
    second.apply_entry(sweep_entry(0.3), producer=second.producer)  # the lock just taken above holds
    assert sweeps_queue() == 1


def test_each_job_has_its_own_lock():
    assert claim_run("purge-expired-records", 3600) is True
    assert claim_run("recover-undelivered-codes", 5) is True
    assert claim_run("purge-expired-records", 3600) is False


def test_with_redis_unreachable_a_beat_sends_the_job_anyway(redis_unreachable):
    # A sweep run twice is harmless (each task claims its rows); one not run could strand a code.
    assert claim_run("recover-undelivered-codes", 5) is True
    assert claim_run("recover-undelivered-codes", 5) is True


def test_the_app_schedules_with_the_locked_scheduler():
    assert app.conf.beat_scheduler == "otpsite.beat:LockedScheduler"
