"""Fixtures that start the provider stand-ins and point the django settings at them.

Registered in tests/conftest.py (`pytest_plugins = ["tests.standins.fixtures"]`).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.standins.aws import REGION, AwsStandIn, start_moto_server
from tests.standins.sendgrid import SendGridStandIn
from tests.standins.twilio import TwilioStandIn

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_FROM = "+15005550006"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    server, url = start_moto_server()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def aws(moto_url, settings, monkeypatch) -> AwsStandIn:
    """SES and SNS on moto, fresh for each test; boto3 finds test credentials and the region."""
    standin = AwsStandIn(url=moto_url)
    standin.reset()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = moto_url
    settings.SNS_SENDER_ID = ""
    return standin


@pytest.fixture
def no_aws_credentials(settings, monkeypatch, tmp_path: Path) -> None:
    """No credential anywhere boto3 looks: environment, files, instance metadata."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_WEB_IDENTITY_TOKEN_FILE", raising=False)
    settings.AWS_REGION = REGION


@pytest.fixture
def sendgrid_standin(settings) -> Iterator[SendGridStandIn]:
    standin = SendGridStandIn().start()
    settings.SENDGRID_API_KEY = "SG.test-key"
    settings.SENDGRID_API_HOST = standin.url
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def twilio_standin(settings) -> Iterator[TwilioStandIn]:
    standin = TwilioStandIn().start()
    settings.TWILIO_ACCOUNT_SID = TWILIO_SID
    settings.TWILIO_AUTH_TOKEN = "test-auth-token"
    settings.TWILIO_FROM_NUMBER = TWILIO_FROM
    settings.TWILIO_MESSAGING_SERVICE_SID = ""
    settings.TWILIO_API_BASE_URL = standin.url
    try:
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connections are refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A URL on 127.0.0.1 whose socket completes every connection and never answers a byte."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
