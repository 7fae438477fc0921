"""The API's contract: schemathesis finds no server error and no mismatch; docs work offline; JSON 404s."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from otp.models import OneTimeCode
from tests.helpers import SEND_URL, VERIFY_URL, code_in


@schemathesis.check
def no_internal_error(ctx, response, case):
    """No 500 anywhere. A 503 is an answer (the health endpoints give it without a worker, send
    and verify when Redis is down); status_code_conformance makes sure the schema documents it."""
    if response.status_code == 500 or (response.status_code > 500 and response.status_code != 503):
        raise AssertionError(f"{case.method} {case.path} answered {response.status_code}")
    return None


CHECKS = [
    no_internal_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_app():
    """The real WSGI application, kept from closing the test's database connection per request
    (Django's own test client does the same)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, settings, tmp_path, wsgi_app):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    return schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis_settings(
    max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_the_api_answers_every_generated_request_as_its_schema_says(case):
    case.call_and_validate(checks=CHECKS)


def test_generated_requests_get_past_validation_to_a_202_on_send(api_schema):
    """The fuzzing reaches the code paths behind validation: some generated sends are accepted.

    It generates its own requests (the same settings as above), so it holds whichever test runs first.
    """
    seen: dict[str, set[int]] = defaultdict(set)
    for path in (SEND_URL, VERIFY_URL):

        @given(case=api_schema[path]["POST"].as_strategy())
        @hypothesis_settings(
            max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck), derandomize=True
        )
        def fuzz(case):
            seen[case.path].add(case.call_and_validate(checks=CHECKS).status_code)

        fuzz()
    assert {400, 202} <= seen[SEND_URL], dict(seen)
    assert 400 in seen[VERIFY_URL], dict(seen)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_send_and_verify_answer_as_the_schema_says(settings, tmp_path, smtp_sink, start_worker, wsgi_app):
    """The 200 of verify needs the code: a real worker delivers it to the SMTP sink, as to a user."""
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    start_worker()
    api = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    send = api[SEND_URL]["POST"].Case(body={"email": "jane@example.com", "purpose": "verification"})
    sent = send.call_and_validate(checks=CHECKS)
    [message] = smtp_sink.wait_for(1)
    code = code_in(message.get_body(("plain",)).get_content())
    verify = api[VERIFY_URL]["POST"].Case(body={"email": "jane@example.com", "code": code})
    verified = verify.call_and_validate(checks=CHECKS)
    again = verify.call_and_validate(checks=CHECKS)
    resend = send.call_and_validate(checks=CHECKS)

    assert (sent.status_code, verified.status_code, again.status_code) == (202, 200, 400)
    assert verified.json()["verified"] is True and verified.json()["verification_token"].count(".") == 2
    headers = {name.lower(): value for name, value in resend.headers.items()}
    assert resend.status_code == 429 and int(headers["retry-after"][0]) > 0


# --- The original design's request --------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "body",
    [{"email": "jane@example.com", "purpose": "verification"}, {"email": "jane@example.com"}],
    ids=["design-request", "no-purpose"],
)
def test_the_designs_request_and_one_without_purpose_get_a_code_that_verifies(
    client, body, smtp_sink, start_worker, settings, tmp_path
):
    settings.OTP_SIGNING_KEY_FILE = str(tmp_path / "keys.json")
    start_worker()

    sent = client.post(SEND_URL, body, content_type="application/json")
    [message] = smtp_sink.wait_for(1)
    code = code_in(message.get_body(("plain",)).get_content())
    verify = {"email": "jane@example.com", "purpose": "verification", "code": code}
    verified = client.post(VERIFY_URL, verify, content_type="application/json")

    assert sent.status_code == 202
    assert verified.status_code == 200 and verified.json()["verified"] is True
    assert OneTimeCode.objects.get().purpose == "verification"


@pytest.mark.django_db
def test_the_tables_have_the_designs_names_in_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        tables = {row[0] for row in cursor.fetchall()}
    assert {"communication_logs", "otp_codes"} <= tables
    assert not {"messaging_communicationlog", "otp_onetimecode"} & tables


# --- Docs offline, JSON errors ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/docs/"])
def test_the_docs_reference_no_other_host_and_their_assets_are_served(client, path):
    page = client.get(path)
    html = page.content.decode()

    assert page.status_code == 200
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "an asset from another host"
    assert "<script>" not in html and not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.startswith("/static/drf_spectacular_sidecar/") for asset in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert content, asset
        assert b"cdn.jsdelivr" not in content and b"unpkg.com" not in content


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        ("get", "/api/v1/nothing-here", 404, {"detail": "Not found."}),
        ("get", "/health/nope", 404, {"detail": "Not found."}),
        (
            "post",
            "/api/v1/auth/otp/send/",
            404,
            {"detail": "Not found. Did you mean /api/v1/auth/otp/send?", "path": "/api/v1/auth/otp/send"},
        ),
        ("get", "/health/", 404, {"detail": "Not found. Did you mean /health?", "path": "/health"}),
        ("get", "/api/docs", 404, {"detail": "Not found. Did you mean /api/docs/?", "path": "/api/docs/"}),
        ("get", "/api/v1/auth/otp/send", 405, {"detail": 'Method "GET" not allowed.'}),
        ("delete", "/health", 405, {"detail": 'Method "DELETE" not allowed.'}),
        ("post", "/.well-known/jwks.json", 405, {"detail": 'Method "POST" not allowed.'}),
    ],
)
def test_api_and_health_paths_answer_json_for_404_and_405(client, method, path, status, body):
    response = getattr(client, method)(path)

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == body


def test_the_schema_states_what_the_serializers_enforce(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]
    send = schema["paths"][SEND_URL]["post"]

    assert components["PurposeEnum"]["enum"] == ["verification", "signup", "login", "password_reset", "verify_contact"]
    assert [ref["$ref"].rsplit("/", 1)[1] for ref in components["SendRequest"]["oneOf"]] == [
        "SendRequestByEmail",
        "SendRequestByPhone",
    ]
    assert components["SendRequestByEmail"]["properties"]["email"]["format"] == "email"
    assert components["SendRequestByEmail"]["required"] == ["email"]
    assert components["SendRequestByPhone"]["properties"]["phone"]["pattern"].startswith("^\\+")
    assert components["SendRequestByEmail"]["properties"]["purpose"]["default"] == "verification"
    assert set(send["responses"]) == {"202", "400", "401", "402", "409", "413", "415", "422", "429", "503"}
    assert {p["name"] for p in send["parameters"]} >= {"Idempotency-Key"}
    assert send["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    assert set(schema["paths"][VERIFY_URL]["post"]["responses"]["400"]["content"]["application/json"]["schema"]) == {
        "oneOf"
    }
