"""Each test starts with nothing stored: an empty database (pytest-django) and an empty Redis (the
autouse clean_redis fixture), on the run's own database and redis-server (tests/run_isolation.py)."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.db import connection

from messaging.models import CommunicationLog
from otp.models import OneTimeCode
from otpsite.redis import get_redis


@pytest.mark.django_db
def test_a_test_starts_with_an_empty_database_and_an_empty_redis():
    assert (CommunicationLog.objects.count(), OneTimeCode.objects.count()) == (0, 0)
    assert get_redis().dbsize() == 0


@pytest.mark.django_db
def test_the_run_uses_the_database_and_redis_its_environment_names():
    run_id = os.environ["OTPSVC_TEST_RUN_ID"]
    if os.environ["DATABASE_URL"].endswith(f"/otpsvc_{run_id}"):  # named by run_isolation, not by the caller
        assert connection.settings_dict["NAME"] == f"test_otpsvc_{run_id}"
    assert os.environ["REDIS_URL"] == settings.REDIS_URL
