"""Fixtures of the receipt tests (the signing stand-ins, with keys and certificates made here) and
of the tenant tests (an SMTP server that checks logins)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from messaging.providers.ses.sns_http import forget_certificates
from tests.conftest import SmtpSink, free_port
from tests.standins.receipts import TOPIC_ARN, SendGridSigner, SnsStandIn


@pytest.fixture
def sendgrid_signer(settings) -> SendGridSigner:
    signer = SendGridSigner()
    settings.SENDGRID_WEBHOOK_PUBLIC_KEY = signer.public_key
    return signer


@pytest.fixture
def sns_standin(settings, tmp_path) -> Iterator[SnsStandIn]:
    """Certificates made here, served on 127.0.0.1 over HTTPS; only that host is allowed."""
    standin = SnsStandIn(tmp_path)
    settings.SNS_CERT_CA_BUNDLE = str(standin.ca_bundle)
    settings.SNS_CERT_HOST_PATTERN = r"127\.0\.0\.1:\d+"  # the stand-in's port; AWS's URLs have none
    settings.SES_RECEIPTS_ENABLED = True
    settings.SES_SNS_TOPIC_ARNS = [TOPIC_ARN]
    forget_certificates()
    try:
        yield standin
    finally:
        forget_certificates()
        standin.stop()


@dataclass
class LoginSink(SmtpSink):
    """An SMTP server that takes mail only after AUTH with one of its `logins` (user -> password)."""

    logins: dict[str, str] = field(default_factory=dict)
    logged_in: list[str] = field(default_factory=list)

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if self.logins.get(user) == password:
                self.logged_in.append(user)
                return AuthResult(success=True)
            # Some servers quote what they were sent: the error text must still not carry it.
            return AuthResult(success=False, handled=False, message=f"535 5.7.8 bad login {user}:{password}")
        return AuthResult(success=False, handled=False)


@pytest.fixture
def login_sink() -> Iterator[LoginSink]:
    sink = LoginSink(host="127.0.0.1", port=free_port())
    controller = Controller(
        sink, hostname=sink.host, port=sink.port, authenticator=sink.authenticate,
        auth_required=True, auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
