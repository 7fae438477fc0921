"""The send's and the delivery's statements are prepared, so PostgreSQL plans each once per connection.

Each test reads pg_prepared_statements on the test's own connection: the statement is there, it
ran once per call, and PostgreSQL ran it with its generic plan (no planning) after the first runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import quote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from messaging.models import CommunicationLog, MessageStatus
from otp.delivery import deliver_one_time_code
from otp.lifecycle import CodeRequest, issue_code
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db

RUNS = 8  # PostgreSQL plans a prepared statement afresh for its first five runs, then keeps a generic plan
SEND = "WITH invalidated AS"  # the send's one statement (invalidate, log, code)
CLAIM = "WITH code AS"  # the delivery's claim
SETTLE = "WITH inserted AS"  # the delivery's attempt and settled log


def runs(fragment: str) -> tuple[int, int]:
    """(runs with a plan made for that run, runs with the kept generic plan) of the prepared statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(custom_plans), 0), coalesce(sum(generic_plans), 0)"
            " FROM pg_prepared_statements WHERE strpos(statement, %s) > 0",
            [fragment],
        )
        custom, generic = cursor.fetchone()
    return int(custom), int(generic)


def issue(n: int) -> str:
    request = CodeRequest(tenant_id="acme", recipient=f"user{n}@example.com", channel="email", purpose="login")
    return str(issue_code(request, now=timezone.now(), enqueue=lambda otp_id: None).pk)


def grew(before: tuple[int, int], after: tuple[int, int]) -> tuple[int, int]:
    return after[0] - before[0], after[1] - before[1]


def test_a_send_runs_one_prepared_statement_planned_once():
    before = runs(SEND)

    for n in range(RUNS):
        issue(n)

    custom, generic = grew(before, runs(SEND))
    assert custom + generic == RUNS  # every send ran the prepared statement
    assert generic >= RUNS - 5  # ... and all but PostgreSQL's first five runs without planning it


def test_a_delivery_claims_and_settles_with_prepared_statements(settings, smtp_sink):
    settings.MESSAGING_EMAIL_PROVIDERS = ["smtp"]
    otp_ids = [issue(n) for n in range(RUNS)]
    before = {fragment: runs(fragment) for fragment in (CLAIM, SETTLE)}

    for otp_id in otp_ids:
        assert deliver_one_time_code(otp_id, retries=0, lease_seconds=90).reason == MessageStatus.SENT

    for fragment in (CLAIM, SETTLE):
        custom, generic = grew(before[fragment], runs(fragment))
        assert custom + generic == RUNS, fragment
        assert generic >= RUNS - 5, fragment
    assert CommunicationLog.objects.filter(status=MessageStatus.SENT).count() == RUNS
    assert len(smtp_sink.wait_for(RUNS)) == RUNS


def test_with_prepared_statements_off_nothing_is_prepared(monkeypatch):
    # What DATABASE_PREPARED_STATEMENTS=0 leaves on the connection (see the next test).
    monkeypatch.setattr(connection.connection, "prepare_threshold", None)
    before = runs(SEND)

    for n in range(RUNS):
        issue(n)

    assert grew(before, runs(SEND)) == (0, 0)
    assert CommunicationLog.objects.filter(status=MessageStatus.QUEUED).count() == RUNS


def test_the_query_log_shows_the_prepared_statement_without_its_values():
    with CaptureQueriesContext(connection) as captured:
        issue(0)

    [statement] = [query["sql"] for query in captured.captured_queries]
    assert statement.startswith("WITH invalidated AS") and "user0@example.com" not in statement


def this_database_url() -> str:
    """The URL of the database this test run uses (a separate process reaches it the same way)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    return f"postgres://{quote(db['USER'])}{password}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.parametrize(("value", "threshold"), [("1", 0), ("0", None)])
def test_the_setting_turns_preparing_on_and_off(value, threshold):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "otpsite.settings",
        "DATABASE_URL": this_database_url(),
        "DATABASE_PREPARED_STATEMENTS": value,
    }
    code = (
        "import django; django.setup(); from django.db import connection; connection.ensure_connection();"
        " print(connection.connection.prepare_threshold)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(threshold)
