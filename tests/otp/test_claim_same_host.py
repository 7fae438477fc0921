"""A claim whose owner ran on this host, in this namespace, is judged by the kernel: a pid that is gone
(or was reused by another process) is dead at once, although its liveness key is still in Redis.

Real parts: the owners are real processes started here (a `sleep`), their keys are written to the
test's Redis as their heartbeat would, the claims run on the test's PostgreSQL (otpsite/same_host.py).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from notifications.delivery import claim as claim_tenant_log
from otp.claim import claim
from otp.codes import hash_code
from otp.lifecycle import CodeRequest, issue_code
from otp.models import OneTimeCode
from otpsite import liveness, same_host
from otpsite.redis import get_redis
from tests.helpers import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 40.0  # the project's lease: nothing here waits for it


@pytest.fixture
def taker(settings) -> Iterator[str]:
    """This process announced as a worker process (the one whose task finds the row claimed)."""
    settings.WORKER_ALIVE_TTL_SECONDS = 30.0  # every key written here outlives the test
    me = liveness.start()
    yield me
    liveness.stop()


def owner_id(pid: int, start: int, *, host: str = "", space: str = "") -> str:
    """The owner id a process would have announced (liveness.new_owner), with its key in Redis as its
    heartbeat left it: present."""
    owner = f"{host or same_host.hostname()}:{pid}:{start}:{space or same_host.space()}:{'a' * 32}"
    get_redis().set(liveness.key(owner), "1", px=30_000)
    return owner


def started(process: subprocess.Popen[bytes]) -> int:
    found = same_host.stat(process.pid)
    assert found is not None
    return found[1]


def exited_pid() -> tuple[int, int]:
    """(pid, start time) of a process that has run and exited (and been reaped)."""
    process = subprocess.Popen(["sleep", "30"])
    start = started(process)
    process.kill()
    process.wait()
    return process.pid, start


@pytest.fixture
def running() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"])
    yield process
    process.kill()
    process.wait()


def claimed_code(owner: str) -> OneTimeCode:
    request = CodeRequest(tenant_id="acme", recipient="jane@example.com", channel="email", purpose="login")
    otp = issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None)
    CommunicationLog.objects.filter(pk=otp.log_id).update(
        status=MessageStatus.SENDING, claimed_at=timezone.now() - timedelta(seconds=1), claimed_by=owner
    )
    return otp


def try_to_claim(otp: OneTimeCode) -> bool:
    """A redelivered task's claim: whether it took the row and stored its new code."""
    taken = claim(str(otp.pk), hash_code("123456", otp_id=str(otp.pk)), now=timezone.now(), lease_seconds=LEASE)
    return bool(taken and taken.claimed and taken.live)


def holder(otp: OneTimeCode) -> str:
    return CommunicationLog.objects.get(pk=otp.log_id).claimed_by


def test_this_process_announces_its_start_and_namespaces():
    host, pid, start, space, token = liveness.new_owner().rsplit(":", 4)
    assert (host, start, space) == (same_host.hostname(), str(same_host.stat(pid)[1]), same_host.space())
    assert len(space) == 16 and len(token) == 32


def test_a_claim_by_a_process_that_exited_is_taken_over_at_once_although_its_key_is_present(taker):
    owner = owner_id(*exited_pid())
    otp = claimed_code(owner)

    assert liveness.recheck_in(owner) == 0.0
    assert try_to_claim(otp)
    assert holder(otp) == taker
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == hash_code("123456", otp_id=str(otp.pk))


def test_a_claim_by_a_live_process_is_not_taken_over(taker, running):
    owner = owner_id(running.pid, started(running))
    otp = claimed_code(owner)
    hash_before = OneTimeCode.objects.get(pk=otp.pk).code_hash

    assert not try_to_claim(otp)
    assert liveness.recheck_in(owner) > 0  # alive: look again when its key would expire
    assert holder(otp) == owner
    assert OneTimeCode.objects.get(pk=otp.pk).code_hash == hash_before


def test_a_pid_reused_by_another_process_counts_as_dead(taker, running):
    owner = owner_id(running.pid, started(running) - 1)  # it had this pid but started before this process
    otp = claimed_code(owner)

    assert try_to_claim(otp)
    assert holder(otp) == taker


def test_an_exited_owner_on_another_host_or_namespace_waits_for_its_key(taker):
    pid, start = exited_pid()
    here = same_host.hostname()
    elsewhere = (
        owner_id(pid, start, host=f"another-{here}"[: same_host.HOST_LENGTH]),  # another machine
        owner_id(pid, start, space="0" * 16),  # a container beside us, with our hostname
    )
    for owner in elsewhere:
        otp = claimed_code(owner)
        assert not try_to_claim(otp)  # its pid is not a pid of ours: its key decides, and it is present
        assert holder(otp) == owner
        CommunicationLog.objects.filter(pk=otp.log_id).delete()


def test_a_tenant_messages_claim_follows_the_same_rule(taker, running):
    for owner, expected in ((owner_id(running.pid, started(running)), False), (owner_id(*exited_pid()), True)):
        otp = claimed_code(owner)
        log = CommunicationLog.objects.get(pk=otp.log_id)
        assert claim_tenant_log(log, lease_seconds=LEASE) is expected
        assert holder(otp) == (taker if expected else owner)
        CommunicationLog.objects.filter(pk=otp.log_id).delete()


def test_a_killed_owner_not_yet_reaped_by_its_parent_is_dead(taker, running):
    owner = owner_id(running.pid, started(running))
    running.send_signal(9)  # not waited for: a zombie until its parent (this test) reaps it
    wait_for(lambda: (same_host.stat(running.pid) or ("", 0))[0] == "Z", timeout=10, what="the owner to be a zombie")
    otp = claimed_code(owner)

    assert try_to_claim(otp)
    assert holder(otp) == taker
