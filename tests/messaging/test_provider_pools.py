"""Provider clients under many threads: one client and one kept-alive connection pool per process,
built once, and each call gets its own answer."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from messaging.providers.aws import aws_client
from messaging.providers.base import SmsMessage
from messaging.providers.sendgrid.sender import SendGridProvider
from messaging.providers.twilio.sender import TwilioProvider
from tests.helpers import otp_email
from tests.standins.fixtures import TWILIO_FROM, TWILIO_SID
from tests.standins.latency import SlowSendGrid, SlowTwilio

THREADS = 48


@pytest.fixture
def busy_switching(settings) -> Iterator[None]:
    """Threads switch as often as the interpreter allows, so a race shows up if there is one.

    The stand-in answers from threads of this same process, so switching this often makes every
    answer slow; the tests here are about whose answer each call gets, not how fast it comes, and
    a loaded machine must not turn them into read timeouts.
    """
    settings.PROVIDER_READ_TIMEOUT = 30
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


@pytest.fixture
def slow_twilio(settings) -> Iterator[SlowTwilio]:
    standin = SlowTwilio(delay=0.01).start()
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = TWILIO_SID, "test-auth-token"
    settings.TWILIO_FROM_NUMBER, settings.TWILIO_MESSAGING_SERVICE_SID = TWILIO_FROM, ""
    settings.TWILIO_API_BASE_URL = standin.url
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def slow_sendgrid(settings) -> Iterator[SlowSendGrid]:
    standin = SlowSendGrid(delay=0.01).start()
    settings.SENDGRID_API_KEY, settings.SENDGRID_API_HOST = "SG.test-key", standin.url
    try:
        yield standin
    finally:
        standin.stop()


def test_concurrent_twilio_calls_each_return_the_message_id_of_their_own_message(slow_twilio, busy_switching):
    phones = [f"+1415555{i:04d}" for i in range(200, 200 + 4 * THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda to: TwilioProvider().send(SmsMessage(to=to, body="hello")), phones))

    assert sorted(request.form()["To"] for request in slow_twilio.requests) == phones
    sids = [result.provider_message_id for result in results]
    assert len(set(sids)) == len(phones)  # no call returned another call's answer


def test_sequential_calls_reuse_one_kept_alive_connection_per_provider(slow_twilio, slow_sendgrid):
    for i in range(20):
        TwilioProvider().send(SmsMessage(to=f"+1415555{i + 300:04d}", body="hello"))
        SendGridProvider().send(otp_email(to=f"user{i}@example.org"))

    assert (len(slow_twilio.requests), len(slow_sendgrid.requests)) == (20, 20)
    assert (slow_twilio.connections, slow_sendgrid.connections) == (1, 1)


def send_one(provider: str, i: int) -> None:
    if provider == "twilio":
        TwilioProvider().send(SmsMessage(to=f"+1415555{i + 400:04d}", body="hello"))
    else:
        SendGridProvider().send(otp_email(to=f"u{i}@example.org"))


@pytest.mark.parametrize("provider", ["twilio", "sendgrid"])
def test_calls_in_flight_at_once_keep_their_connections_for_the_next_round(provider, slow_twilio, slow_sendgrid):
    standin = slow_twilio if provider == "twilio" else slow_sendgrid
    for _ in range(3):
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(lambda i: send_one(provider, i), range(THREADS)))

    assert len(standin.requests) == 3 * THREADS
    assert standin.connections <= THREADS  # the second and third rounds opened none


def test_threads_asking_for_a_boto3_client_at_once_share_one_built_once(settings, aws, busy_switching):
    settings.AWS_REGION = "eu-west-3"  # a setting no earlier test built a client for
    with ThreadPoolExecutor(THREADS) as pool:
        clients = list(pool.map(lambda _: aws_client("sns"), range(THREADS)))

    assert len({id(client) for client in clients}) == 1
    assert clients[0].meta.config.max_pool_connections == settings.PROVIDER_HTTP_POOL_SIZE


def test_aws_is_configured_follows_credentials_leaving_the_environment(aws, monkeypatch, tmp_path):
    """Asked before every call on one process-wide session, yet never a stale answer."""
    from messaging.providers.aws import aws_is_configured

    assert aws_is_configured()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    assert not aws_is_configured()


def test_a_proxy_in_the_environment_when_the_client_is_built_stays_in_use(monkeypatch):
    """The Twilio session reads the environment once (trust_env off per call), with the same answer."""
    from messaging.providers.twilio.sender import twilio_client

    monkeypatch.setenv("HTTPS_PROXY", "http://egress-proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "")
    twilio_client.cache_clear()
    try:
        session = twilio_client("AC" + "0" * 32, "token", "https://api.twilio.com", 1.0, 1.0, 4).http_client.session
        monkeypatch.delenv("HTTPS_PROXY")

        prepared = session.prepare_request(requests.Request("POST", "https://api.twilio.com/2010-04-01/x"))
        found = session.merge_environment_settings(prepared.url, {}, None, None, None)
        assert found["proxies"]["https"] == "http://egress-proxy.internal:3128"
        assert session.trust_env is False
    finally:
        twilio_client.cache_clear()
