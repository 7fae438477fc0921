"""The whole path with a real Celery worker: send, deliver, read the code, verify once."""

from __future__ import annotations

import json
import re

import pytest
import redis
from celery.signals import before_task_publish
from django.conf import settings
from django.db import connection

from messaging.models import AttemptOutcome, CommunicationLog, DeliveryAttempt, MessageStatus
from otp.models import OneTimeCode
from tests.conftest import free_port
from tests.helpers import SEND_URL, VERIFY_URL, code_in, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def settled_log() -> CommunicationLog | None:
    log = CommunicationLog.objects.first()
    final = {MessageStatus.SENT, MessageStatus.FAILED}
    return log if log is not None and log.status in final else None


def test_a_code_sent_by_email_reaches_the_inbox_verifies_and_is_then_refused(client, smtp_sink, start_worker):
    start_worker()

    response = post(client, SEND_URL, {"email": "Jane.Doe@Example.com", "purpose": "signup"})
    assert response.status_code == 202

    [message] = smtp_sink.wait_for(1)
    assert message["To"] == "jane.doe@example.com"
    code = code_in(message.get_body(("plain",)).get_content())
    first = post(client, VERIFY_URL, {"email": "jane.doe@example.com", "purpose": "signup", "code": code})
    again = post(client, VERIFY_URL, {"email": "jane.doe@example.com", "purpose": "signup", "code": code})

    assert (first.status_code, first.json()["verified"]) == (200, True)
    assert first.json()["verification_token"]
    assert again.status_code == 400
    assert again.json()["verified"] is False
    log = wait_for(settled_log, what="the log to settle")
    assert (log.status, log.provider_used, log.channel) == (MessageStatus.SENT, "smtp", "email")
    assert log.provider_message_id and log.sent_at is not None
    outcomes = list(log.attempts.values_list("provider", "outcome"))
    assert outcomes == [
        ("ses", AttemptOutcome.SKIPPED_NOT_CONFIGURED),
        ("sendgrid", AttemptOutcome.SKIPPED_NOT_CONFIGURED),
        ("smtp", AttemptOutcome.SENT),
    ]


def test_a_code_sent_by_sms_reaches_the_console_and_verifies_once(client, settings, tmp_path, start_worker):
    settings.CONSOLE_SMS_OUTPUT = str(tmp_path / "sms.txt")
    start_worker(DEBUG="1", MESSAGING_SMS_PROVIDERS="console")  # the console is for development only

    response = post(client, SEND_URL, {"phone": "+1 415 555 0123", "purpose": "login"})
    assert response.status_code == 202

    log = wait_for(settled_log, what="the SMS to be sent")
    assert (log.status, log.provider_used, log.recipient) == (MessageStatus.SENT, "console", "+14155550123")
    # The line is "[console SMS <id>] to <number>: <body>"; only the body is the message.
    code = code_in((tmp_path / "sms.txt").read_text().split(": ", 1)[1])
    first = post(client, VERIFY_URL, {"phone": "+14155550123", "purpose": "login", "code": code})
    again = post(client, VERIFY_URL, {"phone": "+14155550123", "purpose": "login", "code": code})
    assert (first.status_code, again.status_code) == (200, 400)


def test_the_plaintext_code_is_in_no_table_no_task_message_and_no_log_line(
    client, smtp_sink, settings, start_worker, caplog
):
    # Eight digits, so that no timestamp or hash in the database can match it by chance.
    settings.OTP_LENGTH = 8
    published: list[str] = []

    def capture(sender=None, body=None, headers=None, **_):
        published.append(json.dumps([body, headers], default=str))

    before_task_publish.connect(capture)
    worker = start_worker(OTP_LENGTH="8")
    try:
        response = post(client, SEND_URL, {"email": "secret@example.com", "purpose": "signup"})
    finally:
        before_task_publish.disconnect(capture)
    assert response.status_code == 202
    [message] = smtp_sink.wait_for(1)
    code = code_in(message.get_body(("plain",)).get_content(), length=8)
    wait_for(settled_log, what="the log to settle")
    assert (
        post(client, VERIFY_URL, {"email": "secret@example.com", "purpose": "signup", "code": "0" * 8}).status_code
        == 400
    )
    assert (
        post(client, VERIFY_URL, {"email": "secret@example.com", "purpose": "signup", "code": code}).status_code == 200
    )

    otp = OneTimeCode.objects.get()
    assert published and all(code not in text for text in published)
    assert all(str(otp.pk) in text for text in published)
    assert tables_containing(code) == []
    assert redis_keys_containing(code) == []
    assert code not in caplog.text
    worker.stop()
    assert "secret@example.com" not in worker.output()
    assert code not in worker.output()


def tables_containing(needle: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        tables = [row[0] for row in cursor.fetchall()]
        found = []
        for table in tables:
            cursor.execute(f'SELECT count(*) FROM "{table}" AS t WHERE t::text LIKE %s', [f"%{needle}%"])
            if cursor.fetchone()[0]:
                found.append(table)
        return found


def redis_keys_containing(needle: str, *, in_names: bool = False) -> list[str]:
    """The keys whose values hold `needle` (and, with in_names, whose names do: for a long secret; a
    six-digit code could match a date in a key's name by chance)."""
    found = []
    for url in {settings.REDIS_URL, settings.CELERY_BROKER_URL}:
        client = redis.Redis.from_url(url)
        for key in client.scan_iter():
            kind = client.type(key).decode()
            values = {
                "string": lambda k: [client.get(k)],
                "list": lambda k: client.lrange(k, 0, -1),
                "hash": lambda k: list(client.hgetall(k).values()),
                "set": lambda k: list(client.smembers(k)),
                "zset": lambda k: client.zrange(k, 0, -1),
            }.get(kind, lambda k: [])(key)
            named = in_names and needle.encode() in key
            if named or any(needle.encode() in (v or b"") for v in values):
                found.append(key.decode())
    return found


def test_smtp_refusing_puts_a_failed_attempt_with_its_error_on_the_log(client, smtp_sink, start_worker):
    smtp_sink.reject_with = "452 4.3.1 Insufficient system storage"
    start_worker()

    assert post(client, SEND_URL, {"email": "later@example.com", "purpose": "signup"}).status_code == 202

    log = wait_for(settled_log, what="the retries to run out")
    smtp_attempts = list(log.attempts.filter(provider="smtp").values_list("outcome", "error_code", "error"))
    assert log.status == MessageStatus.FAILED
    assert "every provider failed" in log.error_message and "452" in log.error_message
    # The first try and OTP_DELIVERY_MAX_RETRIES (2 in tests) retries, each a provider fault.
    assert len(smtp_attempts) == 3
    assert all(outcome == AttemptOutcome.PROVIDER_FAULT and code == "452" for outcome, code, _ in smtp_attempts)


def test_with_nothing_listening_for_smtp_the_task_retries_and_the_log_ends_failed(client, settings, start_worker):
    settings.SMTP_HOST, settings.SMTP_PORT = "127.0.0.1", free_port()
    start_worker()

    assert post(client, SEND_URL, {"email": "nobody@example.com", "purpose": "signup"}).status_code == 202

    log = wait_for(settled_log, what="the retries to run out")
    errors = list(log.attempts.filter(provider="smtp").values_list("error", flat=True))
    assert log.status == MessageStatus.FAILED
    assert len(errors) == 3
    assert all("Connection refused" in error or "ConnectionRefused" in error for error in errors)


def test_a_refusal_that_quotes_the_message_back_stores_and_logs_no_code(client, smtp_sink, settings, start_worker):
    settings.OTP_LENGTH = 8  # as above: nothing else in the database can match eight digits by chance
    quoted: list[str] = []

    def content_filter(content: bytes) -> str:
        line = next(line for line in content.decode().splitlines() if "code is" in line)
        quoted.append(line)
        return f"554 5.7.1 Rejected by content filter: {line}"

    smtp_sink.reject_data = content_filter
    worker = start_worker(OTP_LENGTH="8")

    assert post(client, SEND_URL, {"email": "quoted@example.com", "purpose": "signup"}).status_code == 202

    log = wait_for(settled_log, what="the retries to run out")
    codes = [code_in(line, length=8) for line in quoted]  # a new code for each of the three tries
    errors = list(log.attempts.filter(provider="smtp").values_list("error", flat=True))
    assert len(codes) == len(errors) == 3 and all("content filter" in e and "[redacted]" in e for e in errors)
    worker.stop()
    for code in codes:
        assert tables_containing(code) == []
        assert redis_keys_containing(code) == []
        assert code not in worker.output()


def test_the_message_goes_to_what_the_user_typed(client, smtp_sink, start_worker):
    start_worker()
    assert post(client, SEND_URL, {"email": "carol+otp@example.com", "purpose": "login"}).status_code == 202
    smtp_sink.wait_for(1)
    assert smtp_sink.envelopes[0][1] == ["carol+otp@example.com"]


def test_with_every_sms_provider_down_no_code_reaches_the_worker_output(client, start_worker):
    worker = start_worker()  # the production chain: sns, twilio; neither configured here
    response = post(client, SEND_URL, {"phone": "+14155550123", "purpose": "login"})
    assert response.status_code == 202

    def settled():
        log = CommunicationLog.objects.first()
        return log if log and log.status == MessageStatus.FAILED else None

    log = wait_for(settled, what="delivery to give up")
    assert log.provider_used == ""
    providers = set(DeliveryAttempt.objects.values_list("provider", flat=True))
    assert providers == {"sns", "twilio"}
    output = worker.output()
    assert "console SMS" not in output
    assert "4155550123" not in output
    assert not re.search(r"(?<!\d)\d{6}(?!\d).*is your", output)
