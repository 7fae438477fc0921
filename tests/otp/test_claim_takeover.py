"""A claim whose worker process died is taken over at once, by exactly one taker; a live one never.

Real parts only: a real `celery worker` (which announces itself at worker_init) is the claim's
owner, the test process announces itself as the taker (otpsite/liveness.py), the claims run on the
test's PostgreSQL and the liveness keys in its Redis. kill -9 of the worker is how its key goes.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from notifications.delivery import claim as claim_tenant_log
from otp.claim import claim
from otp.codes import hash_code
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from otpsite import liveness
from otpsite.redis import get_redis
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 40.0  # the project's lease: nothing in these tests waits for it
TTL = "2"  # a short liveness TTL (WORKER_ALIVE_TTL_SECONDS) for the test process and its workers


@pytest.fixture
def announced(settings):
    """This process announced as a worker process would be, and the liveness keys trusted (the
    test's Redis was flushed, so its epoch is new: wait until it is a TTL old)."""
    settings.WORKER_ALIVE_TTL_SECONDS = float(TTL)
    me = liveness.start()
    wait_for(lambda: _epoch_age() >= liveness.warm_seconds(), timeout=30, what="the liveness epoch to be warm")
    yield me
    liveness.stop()


def _epoch_age() -> float:
    epoch = get_redis().get(liveness.epoch_key())
    return time.time() - float(epoch) if epoch else 0.0


def worker_owner(before: set[str]) -> str:
    """The owner a newly started worker announced (its liveness key), once it is there."""

    def new() -> set[str]:
        keys = set(get_redis().scan_iter(liveness.key("*")))
        return keys - before

    (found,) = wait_for(new, timeout=30, what="the worker's liveness key")
    return found.removeprefix(liveness.key(""))


def claimed_code(owner: str, *, age: float = 1.0) -> OneTimeCode:
    """A code whose log row `owner` claimed `age` seconds ago and is still sending."""
    request = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    claimed_at = timezone.now() - timedelta(seconds=age)
    CommunicationLog.objects.filter(pk=otp.log_id).update(
        status=MessageStatus.SENDING, claimed_at=claimed_at, claimed_by=owner
    )
    return otp


def test_a_live_workers_claim_is_refused_and_a_killed_ones_is_taken_over_by_exactly_one(announced, start_worker):
    existing = set(get_redis().scan_iter(liveness.key("*")))
    worker = start_worker(concurrency=1, WORKER_ALIVE_TTL_SECONDS=TTL)
    owner = worker_owner(existing)
    assert owner.split(":")[1] == str(worker.process.pid)  # host:pid:start:space:uuid, the worker's own
    otp = claimed_code(owner)
    hash_before = OneTimeCode.objects.get(pk=otp.pk).code_hash

    # A second task for the same code while its worker lives: refused, and told to look again when
    # the worker's key would expire (not after the 40 s lease).
    step = deliver_one_time_code(str(otp.pk), retries=0, lease_seconds=LEASE)
    assert (step.done, step.reason) == (False, "claimed by another worker")
    assert 1.0 <= step.retry_in <= liveness.ttl_seconds() + 1
    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (log.status, log.claimed_by) == (MessageStatus.SENDING, owner)
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == hash_before

    worker.kill()
    wait_for(lambda: liveness.recheck_in(owner) == 0.0, timeout=15, what="the killed worker's key to expire")

    # Several takers at once: exactly one takes the claim over, and its code is the one stored.
    results: dict[str, bool] = {}

    def take(code: str) -> None:
        try:
            taken = claim(str(otp.pk), hash_code(code, otp_id=str(otp.pk)), now=timezone.now(), lease_seconds=LEASE)
            results[code] = bool(taken and taken.claimed and taken.live)
        finally:
            close_old_connections()
            connection.close()

    takers = [threading.Thread(target=take, args=(f"{i:06d}",)) for i in range(4)]
    for taker in takers:
        taker.start()
    for taker in takers:
        taker.join()
    winners = [code for code, won in results.items() if won]
    assert len(results) == 4 and len(winners) == 1
    log = CommunicationLog.objects.get(pk=otp.log_id)
    assert (log.status, log.claimed_by) == (MessageStatus.SENDING, announced)
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == hash_code(winners[0], otp_id=str(otp.pk))


def test_a_claim_whose_owner_shut_down_cleanly_is_taken_over_at_once(announced, start_worker):
    existing = set(get_redis().scan_iter(liveness.key("*")))
    worker = start_worker(concurrency=1, WORKER_ALIVE_TTL_SECONDS=TTL)
    owner = worker_owner(existing)
    otp = claimed_code(owner)
    worker.stop()  # warm shutdown deletes the key: no TTL to wait for

    taken = claim(str(otp.pk), hash_code("123456", otp_id=str(otp.pk)), now=timezone.now(), lease_seconds=LEASE)
    assert taken is not None and taken.claimed
    assert CommunicationLog.objects.get(pk=otp.log_id).claimed_by == announced


def test_a_tenant_messages_claim_is_taken_over_from_a_dead_owner_but_not_from_a_live_one(announced):
    gone, alive = "gone-host:1:" + "0" * 32, announced  # gone never announced; alive is this process
    for owner, expected in ((alive, False), (gone, True)):
        otp = claimed_code(owner)
        log = CommunicationLog.objects.get(pk=otp.log_id)
        assert claim_tenant_log(log, lease_seconds=LEASE) is expected
        assert CommunicationLog.objects.get(pk=otp.log_id).claimed_by == announced
        CommunicationLog.objects.filter(pk=otp.log_id).delete()


def test_on_doubt_the_claim_waits_for_its_lease(announced, settings):
    """No owner recorded, the keys just lost (a Redis restart), or Redis unreadable: no takeover."""
    dead = "gone-host:1:" + "0" * 32

    unowned = claimed_code("")
    assert not claim(str(unowned.pk), "x", now=timezone.now(), lease_seconds=LEASE).claimed

    owned = claimed_code(dead)
    get_redis().flushdb()  # every key lost, ours too, until our next refresh writes it and a new epoch
    assert not claim(str(owned.pk), "x", now=timezone.now(), lease_seconds=LEASE).claimed
    assert liveness.recheck_in(dead) > 0

    wait_for(lambda: _epoch_age() >= liveness.warm_seconds(), timeout=30, what="the new epoch to be warm")
    reachable, settings.REDIS_URL = settings.REDIS_URL, "redis://127.0.0.1:1/0"  # Redis unreachable
    assert liveness.recheck_in(dead) is None
    assert not claim(str(owned.pk), "x", now=timezone.now(), lease_seconds=LEASE).claimed
    wait_for(lambda: liveness.owner() == "", timeout=15, what="our heartbeat to fail long enough")

    # Redis back (with its keys): a live owner's key may not be written again yet, so for a TTL
    # after our own last failed refresh an absent key proves nothing.
    settings.REDIS_URL = reachable
    wait_for(liveness.owner, timeout=15, what="our heartbeat to succeed again")
    assert liveness.recheck_in(dead) > 0
    assert not claim(str(owned.pk), "x", now=timezone.now(), lease_seconds=LEASE).claimed
    wait_for(lambda: liveness.recheck_in(dead) == 0.0, timeout=15, what="a TTL without a failed refresh")

    # The lease still ends every claim, whoever made it.
    later = timezone.now() + timedelta(seconds=LEASE + 1)
    assert claim(str(owned.pk), "x", now=later, lease_seconds=LEASE).claimed


def test_a_process_that_never_announced_itself_claims_without_an_owner():
    request = CodeRequest(tenant_id="acme", recipient="sam@example.com", channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    assert liveness.owner() == ""
    assert claim(str(otp.pk), "x", now=timezone.now(), lease_seconds=LEASE).claimed
    assert CommunicationLog.objects.get(pk=otp.log_id).claimed_by == ""


def test_each_prefork_child_announces_itself_and_a_killed_child_is_seen_dead(announced, start_worker):
    existing = set(get_redis().scan_iter(liveness.key("*")))
    worker = start_worker(concurrency=1, pool="prefork", WORKER_ALIVE_TTL_SECONDS=TTL)

    def announced_pids() -> set[str]:
        keys = set(get_redis().scan_iter(liveness.key("*"))) - existing
        return {k.removeprefix(liveness.key("")).split(":")[1] for k in keys}

    pids = wait_for(lambda: len(announced_pids()) >= 2 and announced_pids(), timeout=30, what="parent and child")
    child = next(pid for pid in pids if pid != str(worker.process.pid))  # the child runs the tasks
    owner = next(k.removeprefix(liveness.key("")) for k in get_redis().scan_iter(liveness.key(f"*:{child}:*")))
    assert liveness.recheck_in(owner) > 0  # alive

    os.kill(int(child), signal.SIGKILL)  # the pool replaces it with a new child, a new owner
    wait_for(lambda: liveness.recheck_in(owner) == 0.0, timeout=15, what="the killed child's key to expire")
    assert len(announced_pids()) >= 2
