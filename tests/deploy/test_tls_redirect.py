"""Plain HTTP and the TLS proxy in front: what is redirected, what answers, whose https is trusted."""

from __future__ import annotations

import pytest

from tests.deploy.test_deploy_check import run_manage


@pytest.fixture
def redirecting(settings) -> None:
    """The production redirect (tests/settings.py turns it off), with the exempt paths as shipped."""
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health", "/health/messaging", "/metrics"])
def test_probes_and_scrapes_answer_over_plain_http(client, redirecting, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code != 301
    assert "Location" not in answer


@pytest.mark.parametrize("path", ["/signup/", "/api/v1/auth/otp/send", "/health/other", "/healthz"])
def test_everything_else_over_plain_http_goes_to_https_on_the_same_host(client, redirecting, path: str) -> None:
    answer = client.get(path, HTTP_HOST="localhost")
    assert answer.status_code == 301
    assert answer["Location"] == f"https://localhost{path}"


def test_x_forwarded_proto_is_trusted_only_behind_a_tls_proxy() -> None:
    show = ["shell", "-c", "from django.conf import settings; print(settings.SECURE_PROXY_SSL_HEADER)"]
    assert run_manage(*show).stdout.splitlines()[-1] == "None"
    assert run_manage(*show, BEHIND_TLS_PROXY="1").stdout.splitlines()[-1] == "('HTTP_X_FORWARDED_PROTO', 'https')"
