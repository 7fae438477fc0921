"""Fixtures of the receipt tests: the signing stand-ins, with keys and certificates made here."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from messaging.providers.ses.sns_http import forget_certificates
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
