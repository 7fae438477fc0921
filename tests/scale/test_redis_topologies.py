"""The client factory (otpsite/redis.py) on Sentinel and on a Cluster, and the settings that choose them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import redis

from messaging.breaker import breaker_for
from messaging.breaker_store import RedisStore
from otp.limits import LimitsUnavailable, RateLimited, check_send
from otpsite.redis import get_broker_redis, get_redis, slotted_key
from tests.conftest import ROOT
from tests.helpers import wait_for
from tests.scale.redis_servers import failover_done

pytestmark = pytest.mark.scale


def send(recipient: str) -> None:
    check_send(channel="email", recipient=recipient, tenant_id="acme", client_ip="203.0.113.7")


@pytest.fixture
def on_sentinel(sentinel_group, settings):
    settings.REDIS_SENTINELS = sentinel_group.sentinel_hosts.split(",")
    settings.REDIS_SENTINEL_MASTER = sentinel_group.name
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens: only Sentinel leads to the data
    return sentinel_group


def test_under_sentinel_the_limits_fail_closed_between_masters_and_hold_on_the_new_one(on_sentinel, settings):
    group = on_sentinel
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0
    send("jane@example.com")
    send("jane@example.com")  # two of the three sends a recipient gets per window
    assert get_redis().connection_pool.get_master_address()[1] == group.master.port
    wait_for(lambda: _replicated(group), timeout=10, what="the replica to catch up")

    group.master.kill()
    killed = time.monotonic()
    with pytest.raises(LimitsUnavailable):  # no master: refused (503), never admitted unchecked
        send("jane@example.com")
    wait_for(lambda: failover_done(group, group.master.port, killed), timeout=30, what="a new master")

    send("jane@example.com")  # the third, on the new master
    assert get_redis().connection_pool.get_master_address()[1] == group.replica.port
    with pytest.raises(RateLimited) as refused:
        send("jane@example.com")  # the two sends before the failover still count
    assert refused.value.scope == "recipient"


def _replicated(group) -> bool:
    master = group.master.client().info("replication")["master_repl_offset"]
    return group.replica.client().info("replication").get("slave_repl_offset", -1) >= master


def test_under_sentinel_the_breakers_and_the_broker_client_reach_the_master(on_sentinel, settings):
    group = on_sentinel
    # kombu's form, a dead sentinel first: the next one answers; the db is the first URL's.
    settings.CELERY_BROKER_URL = f"sentinel://127.0.0.1:1/3;sentinel://127.0.0.1:{group.sentinels[1].port}/3"
    breaker = breaker_for("ses")
    for _ in range(5):
        permit = breaker.acquire()
        assert permit is not None
        breaker.record_failure(permit, "503")
    assert group.master.client().hget(RedisStore.keys("ses")[0], "state") == "open"
    broker = get_broker_redis()
    assert broker is not None
    broker.lpush("delivery", "x")
    assert redis.Redis(port=group.master.port, db=3).llen("delivery") == 1  # db 3 of the master


def test_on_a_cluster_every_key_a_script_touches_shares_one_slot(on_redis_cluster, settings):
    client = get_redis()
    slot = client.keyslot
    assert slot(slotted_key("send", "recipient", "x")) == slot(slotted_key("send", "pumping", "blocks"))
    assert len({slot(key) for key in RedisStore.keys("ses")}) == 1
    # The slot is chosen by the tag only, whatever a later part holds.
    assert slot(slotted_key("verify", "ip", "{evil}")) == slot(slotted_key("verify", "lockout", "abc"))


def test_a_cluster_that_cannot_be_reached_fails_closed_within_a_second(settings):
    settings.REDIS_CLUSTER_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    with pytest.raises(LimitsUnavailable):
        send("jane@example.com")
    assert time.monotonic() - started < 1.0
    with pytest.raises(redis.ConnectionError):
        get_redis().ping()


def settings_error(**env: str) -> str:
    """What importing the settings says under this environment ("" when it starts)."""
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stderr.strip().splitlines()[-1] if result.returncode else ""


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"REDIS_SENTINELS": "127.0.0.1:26379"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": "127.0.0.1", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS takes host:port"),
        ({"REDIS_SENTINELS": "h:1", "REDIS_SENTINEL_MASTER": "m", "REDIS_CLUSTER_URL": "redis://h:2"}, "not both"),
        ({"REDIS_CLUSTER_URL": "redis://h:7000", "CELERY_BROKER_URL": ""}, "REDIS_CLUSTER_URL needs CELERY_BROKER_URL"),
        ({"REDIS_KEY_PREFIX": "otp{x}"}, "REDIS_KEY_PREFIX may not contain"),
    ],
)
def test_a_redis_topology_set_half_way_refuses_to_start_and_says_why(env, error):
    assert error in settings_error(**env)


def test_under_sentinel_the_broker_defaults_to_kombus_sentinel_transport_with_the_master_name():
    env = {"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379", "REDIS_SENTINEL_MASTER": "otp",
           "REDIS_PASSWORD": "p@ss", "REDIS_SENTINEL_PASSWORD": "s3", "CELERY_BROKER_URL": ""}  # fmt: skip
    result = subprocess.run(
        [sys.executable, "-c", "import celeryconfig as c; print(c.broker_url); print(c.broker_transport_options)"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    url, options = result.stdout.splitlines()
    assert url == "sentinel://:p%40ss@10.0.0.1:26379/0;sentinel://:p%40ss@10.0.0.2:26379/0"
    assert "'master_name': 'otp'" in options and "'password': 's3'" in options
