"""The verification lockout and per-IP verify limit (otp/lockout.py), against the real Redis."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from otp.limits import RateLimited
from otp.lockout import admit_guess, record_success
from otpsite.redis import get_redis

# Each test runs on the run's redis-server and on a 3-master Redis Cluster (marked scale).
pytestmark = pytest.mark.usefixtures("redis_backend")

WHO = {"tenant_id": "acme", "recipient": "jane@example.com", "purpose": "login", "client_ip": "203.0.113.7"}


def fail(times: int, *, live: bool = True, **who: str) -> int:
    """Make `times` wrong guesses; return how many were admitted before the first refusal."""
    for admitted in range(times):
        if not admits(live=live, **who):
            return admitted
    return times


def admits(*, live: bool = True, **who: str) -> bool:
    """Whether one guess is admitted (not refused with RateLimited)."""
    try:
        admit_guess(**{**WHO, **who}, live_code=live)
    except RateLimited:
        return False
    return True


def refusal(**who: str) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        admit_guess(**{**WHO, **who}, live_code=True)
    return refused.value


def test_a_client_is_locked_after_the_threshold_of_guesses_at_a_live_code(settings):
    assert settings.OTP_LOCKOUT_THRESHOLD == 10
    assert fail(10) == 10
    refused = refusal()
    assert refused.scope == "verify_lockout"
    assert 299 <= refused.retry_after <= 300


def test_guesses_when_no_live_code_exists_lock_nobody_out(settings):
    settings.OTP_VERIFY_LIMIT_PER_IP = 1000
    assert fail(50, live=False) == 50
    assert fail(10) == 10  # all ten real failures are still admitted: the fifty counted nothing
    refused = refusal()
    assert (refused.scope, 299 <= refused.retry_after <= 300) == ("verify_lockout", True)


def test_a_lock_holds_only_for_the_client_that_earned_it():
    assert fail(10, client_ip="198.51.100.66") == 10
    assert refusal(client_ip="198.51.100.66").scope == "verify_lockout"
    assert admits()  # the owner, from elsewhere
    assert admits(recipient="bob@example.com", client_ip="198.51.100.66")


def test_recipient_variants_share_one_lock():
    assert fail(10) == 10
    assert refusal(recipient="JANE+x@EXAMPLE.com").scope == "verify_lockout"


def test_past_a_hundred_failures_from_many_clients_each_client_gets_one_guess_an_hour(settings):
    assert (settings.OTP_LOCKOUT_RECIPIENT_CAP, settings.OTP_SLOW_GUESS_SECONDS) == (100, 3600)
    for n in range(10):
        assert fail(10, client_ip=f"198.51.100.{n}") == 10
    # The owner, from an address that has not guessed, is admitted: their right code can pass.
    assert admits(client_ip="192.0.2.1")
    refused = refusal(client_ip="192.0.2.1")
    assert refused.scope == "verify_slowed"
    assert 3599 <= refused.retry_after <= 3600
    assert admits(client_ip="192.0.2.2")  # one more stranger, one more guess
    assert refusal(client_ip="192.0.2.2").scope == "verify_slowed"
    record_success(**{**WHO, "client_ip": "198.51.100.0"})  # a success ends the run of failures
    assert fail(9, client_ip="192.0.2.3") == 9  # back to the per-client threshold


def test_ninety_nine_failures_do_not_slow_a_new_client(settings):
    for n in range(9):
        assert fail(10, client_ip=f"198.51.100.{n}") == 10
    assert fail(9, client_ip="198.51.100.9") == 9  # 99 in all
    # The 100th is admitted, and so is a further guess from the same client...
    assert fail(2, client_ip="192.0.2.1") == 2
    assert refusal(client_ip="192.0.2.1").scope == "verify_slowed"  # ...but past the cap it slows


def test_guesses_for_one_purpose_never_lock_another(settings):
    assert fail(10, purpose="login") == 10
    assert refusal(purpose="login").scope == "verify_lockout"
    assert admits(purpose="password_reset")


def test_guesses_through_one_tenant_never_lock_the_recipient_out_of_another():
    assert fail(10, tenant_id="acme") == 10
    assert refusal(tenant_id="acme").scope == "verify_lockout"
    assert admits(tenant_id="globex")


def test_verify_requests_per_ip_are_limited_with_or_without_a_code(settings):
    settings.OTP_VERIFY_LIMIT_PER_IP = 5
    for n in range(5):
        assert admits(recipient=f"user{n}@example.com", live=False)
    assert refusal(recipient="other@example.com").scope == "verify_ip"
    assert admits(client_ip="192.0.2.9", live=False)


def test_each_further_lock_doubles_up_to_the_maximum(settings):
    settings.OTP_LOCKOUT_BASE_SECONDS = 0  # the first lock ends at once
    assert fail(10) == 10
    assert fail(10) == 10
    settings.OTP_LOCKOUT_BASE_SECONDS = 300
    assert 599 <= refusal().retry_after <= 600
    settings.OTP_LOCKOUT_MAX_SECONDS = 400
    assert 399 <= refusal().retry_after <= 400


def test_a_success_forgets_failures_and_locks():
    assert fail(10) == 10
    assert refusal().scope == "verify_lockout"
    record_success(**WHO)
    assert fail(10) == 10  # the lock is gone and the count starts again from zero
    # The next lock is a first lock again (300 s), not the doubled second one (600 s).
    assert 299 <= refusal().retry_after <= 300


def test_failures_outside_the_window_are_not_added_up(settings):
    assert fail(9) == 9
    (lock,) = get_redis().scan_iter(match="*:{verify}:lockout:*")
    get_redis().hset(lock, "window_end", 1)  # as if the hour had passed since the first failure
    assert fail(9) == 9  # nine more, in a new window: no lock
    assert fail(1) == 1
    assert refusal().scope == "verify_lockout"


def test_39_parallel_guesses_admit_exactly_the_threshold():
    barrier = threading.Barrier(39)

    def guess(_: int) -> bool:
        barrier.wait()
        try:
            admit_guess(**WHO, live_code=True)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=39) as pool:
        admitted = list(pool.map(guess, range(39)))
    assert admitted.count(True) == 10
