from __future__ import annotations

import pytest
from django.test import RequestFactory

from otp.limits import RateLimited, check_send
from otpsite.network import client_ip


def request_from(remote_addr: str, forwarded_for: str | None = None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().post("/api/v1/auth/otp/send", **extra)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request_from("198.51.100.4", "203.0.113.9")) == "198.51.100.4"


def test_behind_one_proxy_the_address_it_appended_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client forged two entries; the proxy appended the address it really saw.
    request = request_from("10.0.0.2", "1.1.1.1, 8.8.8.8, 203.0.113.7")
    assert client_ip(request) == "203.0.113.7"


def test_behind_two_proxies_the_second_address_from_the_right_is_the_client(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    request = request_from("10.0.0.3", "1.1.1.1, 203.0.113.7, 10.0.0.2")
    assert client_ip(request) == "203.0.113.7"


def test_too_few_forwarded_addresses_fall_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(request_from("10.0.0.3", "203.0.113.7")) == "10.0.0.3"
    assert client_ip(request_from("10.0.0.3")) == "10.0.0.3"


def test_a_forwarded_entry_that_is_not_an_address_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("10.0.0.2", "1.1.1.1, not-an-ip")) == "10.0.0.2"


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:DB8:0::1]:443", "2001:db8::1"),
        ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
    ],
)
def test_forwarded_addresses_are_normalised(settings, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request_from("10.0.0.2", forwarded)) == expected


def test_a_forged_x_forwarded_for_does_not_change_whose_limit_is_counted(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.OTP_SEND_LIMIT_PER_IP = 5
    for n in range(5):
        ip = client_ip(request_from("10.0.0.2", f"198.51.100.{n}, 203.0.113.7"))
        check_send(channel="email", recipient=f"user{n}@example.com", tenant_id="t", client_ip=ip)
    with pytest.raises(RateLimited) as refused:
        ip = client_ip(request_from("10.0.0.2", "192.0.2.99, 203.0.113.7"))
        check_send(channel="email", recipient="user99@example.com", tenant_id="t", client_ip=ip)
    assert refused.value.scope == "ip"
