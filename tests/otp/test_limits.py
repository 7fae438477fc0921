"""The send limits, SMS pumping guards and verification lockout, against the real Redis."""

from __future__ import annotations

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
    count_paid_send,
)
from otp.lockout import admit_guess, record_success
from otpsite.redis import get_redis
from tests.scale.redis_servers import point_at_a_closed_port

# Each test runs on the run's redis-server and on a 3-master Redis Cluster (marked scale).
pytestmark = pytest.mark.usefixtures("redis_backend")

WHO = {"tenant_id": "acme", "recipient": "jane@example.com", "purpose": "login", "client_ip": "203.0.113.7"}


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


def concurrently(count: int, client_of) -> list[bool]:
    barrier = threading.Barrier(count)

    def one_send(n: int) -> bool:
        barrier.wait()
        return admitted(client_ip=client_of(n))

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one_send, range(count)))


def test_fifty_concurrent_sends_to_one_recipient_from_one_client_admit_exactly_three(no_cooldown):
    assert concurrently(50, lambda n: "198.51.100.1").count(True) == 3


def test_past_the_recipient_cap_fifty_concurrent_sends_from_ten_clients_admit_one_each(no_cooldown, settings):
    settings.OTP_SEND_RECIPIENT_CAP = 3
    for n in range(3):
        send(client_ip=f"192.0.2.{n}")  # the cap is full
    outcomes = concurrently(50, lambda n: f"198.51.100.{n % 10}")
    assert outcomes.count(True) == 10  # each client's first send, and not one more
    assert refusal(client_ip="198.51.100.1").scope == "recipient_cap"


def test_a_stranger_holding_the_recipient_cap_does_not_stop_the_owners_first_send(no_cooldown, settings):
    assert settings.OTP_SEND_RECIPIENT_CAP == 10
    for n in range(10):
        send(client_ip=f"192.0.2.{n}")  # strangers from ten addresses
    assert refusal(client_ip="192.0.2.0").scope == "recipient_cap"
    assert admitted(client_ip="203.0.113.50")  # the owner's own network
    assert refusal(client_ip="203.0.113.50").scope == "recipient_cap"  # slowed: one per window past the cap


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
    zsets = get_redis().scan_iter(_type="zset")
    client_windows = [k for k in zsets if k.endswith(":203.0.113.7") and ":recipient:" in k]
    assert [get_redis().zcard(k) for k in client_windows] == [3]  # the three expired sends are gone


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


def test_the_anonymous_sms_budget_stops_anonymous_sms_but_not_email_nor_tenants(settings):
    settings.SMS_ANONYMOUS_HOURLY_BUDGET = 4
    # Numbers in different prefixes, from different addresses: only the budget can refuse.
    numbers = ["+12025550100", "+14165550123", "+447400123456", "+13125550199", "+16175550142"]
    for n, number in enumerate(numbers[:4]):
        send(number, channel="sms", tenant_id="default", client_ip=f"198.51.100.{n}")
    refused = refusal(recipient=numbers[4], channel="sms", tenant_id="default", client_ip="198.51.100.9")
    assert refused.scope == "sms_budget"
    assert 3598 <= refused.retry_after <= 3600
    assert admitted(recipient="jane@example.com", tenant_id="default", client_ip="198.51.100.9")
    # A tenant's SMS budget is its own: anonymous traffic spent nothing of it.
    assert admitted(recipient=numbers[4], channel="sms", tenant_id="acme", client_ip="198.51.100.9")


def test_each_tenant_has_its_own_sms_budget(settings):
    settings.SMS_TENANT_HOURLY_BUDGET = 2
    for n in range(2):
        send(f"+1202555010{n}", channel="sms", tenant_id="acme", client_ip=f"198.51.100.{n}")
    assert refusal(recipient="+13125550199", channel="sms", tenant_id="acme", client_ip="198.51.100.7").scope == (
        "sms_budget"
    )
    assert admitted(recipient="+13125550199", channel="sms", tenant_id="globex", client_ip="198.51.100.7")
    assert admitted(recipient="+13125550198", channel="sms", tenant_id="default", client_ip="198.51.100.8")


def test_a_paid_resend_counts_against_the_budget_and_is_refused_when_it_is_spent(settings):
    settings.SMS_TENANT_HOURLY_BUDGET = 2
    send("+12025550100", channel="sms", tenant_id="acme")
    assert count_paid_send(channel="sms", tenant_id="acme") is True
    assert count_paid_send(channel="sms", tenant_id="acme") is False
    assert refusal(recipient="+13125550199", channel="sms", tenant_id="acme", client_ip="198.51.100.7").scope == (
        "sms_budget"
    )
    assert count_paid_send(channel="email", tenant_id="acme") is True  # email has no paid budget


# --- SMS destinations -------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["+12025550100", "+14165550123", "+447400123456"])
def test_numbers_in_the_allowed_countries_may_receive_sms(number, settings):
    assert check_sms_destination(number) is None
    # The same number with its country off the allow list is refused: the check looks at it.
    settings.SMS_ALLOWED_COUNTRIES = ["FR"]
    with pytest.raises(DestinationRefused, match="in this country"):
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
    admit_guess(**WHO, live_code=True)
    keys = " ".join(get_redis().scan_iter())
    assert "jane" not in keys
    assert "2025550100" not in keys


# --- Redis unreachable ------------------------------------------------------------------------

CALLS = {
    "check_send": lambda: send(),
    "check_send_sms": lambda: send("+12025550100", channel="sms"),
    "admit_guess": lambda: admit_guess(**WHO, live_code=True),
    "record_success": lambda: record_success(**WHO),
    "count_paid_send": lambda: count_paid_send(channel="sms", tenant_id="acme"),
}


@pytest.mark.parametrize("name", CALLS)
def test_every_check_fails_closed_within_a_second_when_redis_is_unreachable(settings, name):
    point_at_a_closed_port(settings)
    started = time.monotonic()
    with pytest.raises(LimitsUnavailable):
        CALLS[name]()
    assert time.monotonic() - started < 1.0


def test_gmail_dots_and_googlemail_buy_no_new_allowance(no_cooldown):
    for spelling in ("jane.doe@gmail.com", "janedoe@gmail.com", "J.A.N.E.D.O.E@googlemail.com"):
        send(spelling)
    assert refusal(recipient="jane.d.o.e+x@googlemail.com").scope == "recipient"
    assert admitted(recipient="jane.doe@example.com")  # dots matter at other domains
