"""The worker's pool and size come from the app's own configuration, and unsafe pools refuse to start."""

from __future__ import annotations

import pytest

from otpsite.celery import app
from tests.otpsite.test_security_settings import manage_check


def test_a_plain_worker_gets_the_threads_pool_and_its_size_from_the_app():
    assert (app.conf.worker_pool, app.conf.worker_concurrency) == ("threads", 64)


@pytest.mark.parametrize(
    ("variable", "value"), [("CELERY_WORKER_POOL", "gevent"), ("CELERY_WORKER_POOL", "eventlet"),
                            ("CELERY_WORKER_CONCURRENCY", "0")]
)  # fmt: skip
def test_a_pool_the_database_and_redis_clients_are_not_safe_under_refuses_to_start(variable, value):
    result = manage_check(**{variable: value})
    assert result.returncode != 0
    assert "Configuration error" in result.stderr and variable in result.stderr


def test_the_prefork_and_solo_pools_are_still_accepted():
    assert manage_check(CELERY_WORKER_POOL="prefork").returncode == 0
    assert manage_check(CELERY_WORKER_POOL="solo").returncode == 0
