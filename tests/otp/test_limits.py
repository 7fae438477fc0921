"""The send limits, SMS pumping guards and verification lockout, against the real Redis."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from otp.limits import (
    DestinationRefused,
    LimitsUnavailable,
    RateLimited,
    check_send,
    check_sms_destination,
    prefix_blocks_today,
)
from otp.lockout import admit_guess, record_success
from otpsite.redis import get_redis

WHO = {"tenant_id": "acme", "recipient": "jane@example.com", "client_ip": "203.0.113.7"}


def send(recipient="jane@example.com", *, channel="email", tenant_id="acme", client_ip="203.0.113.7"):
    check_send(channel=channel, recipient=recipient, tenant_id=tenant_id, client_ip=client_ip)


def refusal(**kwargs) -> RateLimited:
    with pytest.raises(RateLimited) as refused:
        send(**kwargs)
    return refused.value


def admitted(**kwargs) -> bool:
    try:
        send(**kwargs)
    except RateLimited:
        return False
    return True


@pytest.fixture
def no_cooldown(settings):
    settings.OTP_RESEND_COOLDOWN_SECONDS = 0


# --- Send limits ------------------------------------------------------------------------------


def test_fifty_concurrent_sends_to_one_recipient_admit_exactly_three(no_cooldown):
    barrier = threading.Barrier(50)

    def one_send(n: int) -> bool:
        barrier.wait()
        return admitted(client_ip=f"198.51.100.{n}")

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(one_send, range(50)))
    assert outcomes.count(True) == 3


def test_the_fourth_send_within_the_window_is_refused_until_the_first_leaves_it(no_cooldown):
    for _ in range(3):
        send()
    refused = refusal()
    assert refused.scope == "recipient"
    assert 598 <= refused.retry_after <= 600


def age_every_send(seconds: int) -> None:
    """As if every send counted so far had happened `seconds` earlier (instead of waiting that long)."""
    r = get_redis()
    for key in r.scan_iter(_type="zset"):
        r.zadd(key, {member: score - seconds * 1000 for member, score in r.zrange(key, 0, -1, withscores=True)})


def test_sends_older_than_the_window_no_longer_count_and_are_dropped(no_cooldown, settings):
    for _ in range(3):
        send()
    age_every_send(settings.OTP_SEND_RECIPIENT_WINDOW_SECONDS + 1)

    assert [admitted() for _ in range(4)] == [True, True, True, False]
    recipient_windows = [k for k in get_redis().scan_iter(_type="zset") if ":send:recipient:" in k]
    assert [get_redis().zcard(k) for k in recipient_windows] == [3]  # the three expired sends are gone


def test_a_refused_send_uses_up_no_other_allowance(no_cooldown, settings):
    settings.OTP_SEND_LIMIT_PER_IP = 5
    for _ in range(3):
        send("jane@example.com")
    for _ in range(10):
        assert refusal(recipient="jane@example.com").scope == "recipient"
    # The ten refusals did not count against the IP: two more recipients still fit in its five.
    assert admitted(recipient="bob@example.com")
    assert admitted(recipient="eve@example.com")
    assert refusal(recipient="ann@example.com").scope == "ip"


def test_a_resend_within_the_cooldown_is_refused_with_the_time_left():
    send()
    refused = refusal()
    assert refused.scope == "cooldown"
    assert 59 <= refused.retry_after <= 60


def test_changing_the_case_of_an_address_buys_no_new_allowance():
    send("Jane@Example.com")
    assert refusal(recipient="jane@example.com").scope == "cooldown"


def test_the_per_recipient_limit_holds_across_tenants(no_cooldown):
    for tenant in ("a", "b", "c"):
        send(tenant_id=tenant)
    assert refusal(tenant_id="d").scope == "recipient"


def test_retry_after_names_the_limit_that_frees_last(settings):
    settings.OTP_SEND_LIMIT_PER_RECIPIENT = 1
    send()
    refused = refusal()
    # Both the 60 s cooldown and the 600 s recipient window refuse it; only the later one matters.
    assert refused.scope == "recipient"
    assert refused.retry_after > 60


def test_one_client_ip_is_limited_across_recipients():
    for n in range(20):
        send(f"user{n}@example.com")
    refused = refusal(recipient="user20@example.com")
    assert refused.scope == "ip"
    assert 3598 <= refused.retry_after <= 3600
    assert admitted(recipient="user20@example.com", client_ip="198.51.100.1")


def test_ipv6_clients_are_counted_per_64(settings):
    settings.OTP_SEND_LIMIT_PER_IP = 2
    send("a@example.com", client_ip="2001:db8:1:2::1")
    send("b@example.com", client_ip="2001:db8:1:2:ffff::9")
    assert refusal(recipient="c@example.com", client_ip="2001:db8:1:2::abcd").scope == "ip"
    assert admitted(recipient="c@example.com", client_ip="2001:db8:1:3::1")


def test_a_tenant_is_limited_across_recipients_and_addresses(settings):
    settings.OTP_SEND_LIMIT_PER_TENANT = 5
    for n in range(5):
        send(f"user{n}@example.com", client_ip=f"198.51.100.{n}")
    assert refusal(recipient="user5@example.com", client_ip="198.51.100.5").scope == "tenant"
    assert admitted(recipient="user5@example.com", client_ip="198.51.100.5", tenant_id="other")


def test_the_global_hourly_budget_stops_sms_but_not_email(settings):
    settings.SMS_GLOBAL_HOURLY_BUDGET = 4
    # Numbers in different prefixes, from different addresses: only the budget can refuse.
    numbers = ["+12025550100", "+14165550123", "+447400123456", "+13125550199", "+16175550142"]
    for n, number in enumerate(numbers[:4]):
        send(number, channel="sms", client_ip=f"198.51.100.{n}")
    refused = refusal(recipient=numbers[4], channel="sms", client_ip="198.51.100.9")
    assert refused.scope == "sms_global"
    assert 3598 <= refused.retry_after <= 3600
    assert admitted(recipient="jane@example.com", client_ip="198.51.100.9")


def test_a_sweep_of_adjacent_numbers_is_stopped_by_the_prefix_cap_logged_and_counted(settings, caplog):
    settings.OTP_SEND_LIMIT_PER_IP = 1000
    assert settings.SMS_PREFIX_DAILY_CAP == 20
    sweep = [f"+1202555{n:04d}" for n in range(100, 140)]  # one prefix: +12025550
    with caplog.at_level(logging.WARNING, logger="otp.limits"):
        outcomes = [admitted(recipient=number, channel="sms") for number in sweep]
    assert outcomes == [True] * 20 + [False] * 20
    assert refusal(recipient="+12025550199", channel="sms").scope == "sms_prefix"
    assert prefix_blocks_today() == 21
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 21  # one warning for each refusal counted
    assert warnings[0] == "event=otp.send.prefix_cap prefix=+12025550 cap=20 ip=203.0.113.7"
    assert not any(number in line for number in sweep for line in warnings)
    assert admitted(recipient="+12025551100", channel="sms")


def test_the_prefix_cap_refuses_with_the_time_until_its_oldest_send_leaves_the_day(settings):
    settings.SMS_PREFIX_DAILY_CAP = 1
    send("+12025550100", channel="sms")
    refused = refusal(recipient="+12025550101", channel="sms")
    assert refused.scope == "sms_prefix"
    assert 86398 <= refused.retry_after <= 86400


def test_no_prefix_block_is_counted_while_sends_pass():
    send("+12025550100", channel="sms")
    assert prefix_blocks_today() == 0


# --- SMS destinations -------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["+12025550100", "+14165550123", "+447400123456"])
def test_numbers_in_the_allowed_countries_may_receive_sms(number):
    check_sms_destination(number)


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+18095551234", "DO"),  # shares +1 with the US and Canada
        ("+33612345678", "FR"),
        ("+447911123456", "GG"),  # shares +44 with the UK
    ],
)
def test_numbers_outside_the_allowed_countries_are_refused(number, region):
    with pytest.raises(DestinationRefused) as refused:
        check_sms_destination(number)
    assert refused.value.region == region
    assert str(refused.value) == "Text messages cannot be sent to numbers in this country."


def test_the_allow_list_comes_from_settings(settings):
    settings.SMS_ALLOWED_COUNTRIES = ["FR"]
    check_sms_destination("+33612345678")
    with pytest.raises(DestinationRefused):
        check_sms_destination("+12025550100")


@pytest.mark.parametrize("number", ["+19005550123", "+449098790000"])
def test_premium_rate_numbers_are_refused_even_in_allowed_countries(number):
    with pytest.raises(DestinationRefused, match="only be sent to mobile numbers"):
        check_sms_destination(number)


@pytest.mark.parametrize("number", ["+1201555012", "not a number"])
def test_numbers_with_no_country_are_refused(number):
    with pytest.raises(DestinationRefused):
        check_sms_destination(number)


def test_redis_never_holds_a_recipient_in_clear():
    send("jane@example.com")
    send("+12025550100", channel="sms")
    admit_guess(tenant_id="acme", recipient="jane@example.com", client_ip="203.0.113.7", live_code=True)
    keys = " ".join(get_redis().keys("*"))
    assert "jane" not in keys
    assert "2025550100" not in keys


# --- Redis unreachable ------------------------------------------------------------------------

CALLS = {
    "check_send": lambda: send(),
    "check_send_sms": lambda: send("+12025550100", channel="sms"),
    "admit_guess": lambda: admit_guess(**WHO, live_code=True),
    "record_success": lambda: record_success(**WHO),
    "prefix_blocks_today": prefix_blocks_today,
}


@pytest.mark.parametrize("name", CALLS)
def test_every_check_fails_closed_within_a_second_when_redis_is_unreachable(settings, name):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    started = time.monotonic()
    with pytest.raises(LimitsUnavailable):
        CALLS[name]()
    assert time.monotonic() - started < 1.0
