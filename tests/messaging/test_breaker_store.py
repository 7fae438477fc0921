"""Where the breaker keeps its state: Redis while it answers, a local store while it is down, and Redis
again as soon as it returns (so other processes see the failures again)."""

from __future__ import annotations

from messaging import breaker as breaker_module
from messaging.breaker import breaker_for
from messaging.breaker_store import LocalStore
from tests.helpers import wait_for
from tests.workers.test_broker_outage import PrivateRedis


def test_the_breaker_goes_back_to_the_shared_store_when_redis_returns(settings, tmp_path, monkeypatch):
    server = PrivateRedis(tmp_path)
    server.start()
    monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
    monkeypatch.setattr(breaker_module, "_redis_down_until", {})
    monkeypatch.setattr(breaker_module, "REDIS_RETRY_SECONDS", 0.1)
    settings.REDIS_URL = server.url
    breaker = breaker_for("ses")
    try:
        assert breaker.snapshot().store == "redis"
        server.stop()
        assert breaker.snapshot().store == "local"
        server.start()

        wait_for(lambda: breaker.snapshot().store == "redis", timeout=10, what="the breaker to use Redis again")
        permit = breaker.acquire()
        assert permit is not None and permit.store == "redis"
        breaker.record_failure(permit, "timed out")
        # Another process (a fresh local store) sees the failure: it went to the shared store.
        monkeypatch.setattr(breaker_module, "_local_store", LocalStore())
        assert breaker.snapshot().failure_count == 1
    finally:
        server.stop()
