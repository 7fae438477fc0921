"""The README's integration recipes, extracted from README.md and run as written against a running
service (the live server, a real Celery worker, the SMTP sink): one backend sends and verifies with
its API key, then each path trusts exactly the tokens it should.
"""

from __future__ import annotations

import json
import re
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from tests.conftest import ROOT
from tests.helpers import code_in

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RECIPE = re.compile(r"<!-- recipe: ([a-z-]+) -->\n```python\n(.*?)```", re.S)


def readme_recipes() -> dict[str, str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("### Integrating your backend") :]
    section = section[: section.index("\n## ")]
    return dict(RECIPE.findall(section))


def run_recipe(name: str) -> dict:
    namespace: dict = {"__name__": f"readme_recipe_{name.replace('-', '_')}"}
    exec(compile(readme_recipes()[name], f"README.md:{name}", "exec"), namespace)  # the README, as written
    return namespace


@pytest.fixture
def service(live_server, start_worker, smtp_sink, settings, tmp_path, monkeypatch):
    """A running service with a tenant `acme` whose API key the recipes use, as a newcomer sets it up."""
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    start_worker(OTP_SIGNING_KEY_FILE=settings.OTP_SIGNING_KEY_FILE)
    key = StringIO()
    call_command("create_api_key", "acme", "--create-tenant", "Acme", stdout=key, stderr=StringIO())
    connection.close()
    monkeypatch.chdir(tmp_path)  # the PyJWT recipe keeps its store of spent tokens in the working directory
    monkeypatch.setenv("OTP_SERVICE", live_server.url)
    monkeypatch.setenv("OTP_API_KEY", key.getvalue().strip())
    monkeypatch.setenv("OTP_TENANT", "acme")
    return smtp_sink


def acme_token(backend: dict, sink, email: str, *, purpose: str = "signup", count: int = 1) -> str:
    assert backend["send_code"](email, purpose)[0] == 202
    [message] = [m for m in sink.wait_for(count, timeout=60) if m["To"].lower() == email.lower()][-1:]
    token = backend["verify_code"](email, code_in(message.get_body(("plain",)).get_content()), purpose)
    assert token, "the backend recipe got no token"
    return token


def default_tenant_token(live_url: str, sink, email: str, count: int) -> str:
    """What a browser gets by calling the service directly: a token of the default tenant."""

    def post(path: str, body: dict) -> dict:
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(live_url + path, json.dumps(body).encode(), headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    post("/api/v1/auth/otp/send", {"email": email, "purpose": "signup"})
    [message] = [m for m in sink.wait_for(count, timeout=60) if m["To"].lower() == email.lower()][-1:]
    code = code_in(message.get_body(("plain",)).get_content())
    return post("/api/v1/auth/otp/verify", {"email": email, "purpose": "signup", "code": code})["verification_token"]


def test_the_readme_has_one_recipe_per_path():
    assert list(readme_recipes()) == [
        "your-backend-sends-and-verifies",
        "check-offline-with-pyjwt",
        "redeem-once-with-your-api-key",
    ]


@pytest.mark.parametrize("path", ["check-offline-with-pyjwt", "redeem-once-with-your-api-key"])
def test_each_path_trusts_a_token_of_its_tenant_once_for_its_purpose_and_recipient(service, live_server, path):
    backend = run_recipe("your-backend-sends-and-verifies")
    trust = run_recipe(path)
    not_verified = trust["NotVerified"]

    # The backend's wrong code is a None, not an exception from urlopen.
    assert backend["send_code"]("wrong@example.com")[0] == 202
    assert backend["verify_code"]("wrong@example.com", "000000") is None

    token = acme_token(backend, service, "Jane@Example.com", count=2)
    claims = trust["trusted_claims"](token, purpose="signup", recipient="Jane@Example.com")
    assert (claims["tenant"], claims["purpose"], claims["recipient"]) == ("acme", "signup", "jane@example.com")
    with pytest.raises(not_verified, match="already"):  # single use: the 409 from urlopen handled
        trust["trusted_claims"](token, purpose="signup", recipient="jane@example.com")

    other = acme_token(backend, service, "sam@example.com", count=3)
    with pytest.raises(not_verified, match="another purpose or recipient"):
        trust["trusted_claims"](other, purpose="login", recipient="sam@example.com")
    third = acme_token(backend, service, "kim@example.com", count=4)
    with pytest.raises(not_verified, match="another purpose or recipient"):
        trust["trusted_claims"](third, purpose="signup", recipient="jane@example.com")

    foreign = default_tenant_token(live_server.url, service, "browser@example.com", count=5)
    with pytest.raises(not_verified, match="tenant 'default'"):
        trust["trusted_claims"](foreign, purpose="signup", recipient="browser@example.com")
    with pytest.raises(not_verified):
        trust["trusted_claims"](token[:-4] + "AAAA", purpose="signup", recipient="jane@example.com")


def test_the_recipes_do_not_leave_their_store_in_the_repository(service):
    run_recipe("check-offline-with-pyjwt")

    assert not (ROOT / "spent-verification-tokens.sqlite3").exists()
    assert Path("spent-verification-tokens.sqlite3").exists()
