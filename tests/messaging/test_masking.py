from __future__ import annotations

import logging

import pytest

from otpsite.logs import RedactCodesFilter, format_event, log_event
from otpsite.redaction import mask_recipient, redact_codes

logger = logging.getLogger("tests.masking")


@pytest.mark.parametrize(
    ("recipient", "masked"),
    [
        ("jane@example.com", "j***@example.com"),
        ("j@example.com", "j***@example.com"),
        ("first.last+tag@mail.example.org", "f***@mail.example.org"),
        ("+447700900789", "+44*******789"),
        ("+12025550123", "+12******123"),
        ("+4412345", "+*****45"),
        ("", ""),
    ],
)
def test_it_keeps_only_the_edges_of_a_recipient(recipient, masked):
    assert mask_recipient(recipient) == masked


@pytest.mark.parametrize("recipient", ["jane@example.com", "+447700900789", "+4412345"])
def test_masking_a_masked_recipient_changes_nothing(recipient):
    once = mask_recipient(recipient)
    assert mask_recipient(once) == once


def test_it_hides_entirely_what_is_neither_an_address_nor_a_number():
    assert mask_recipient("some opaque user handle") == "***"


def test_an_event_is_one_logfmt_line_with_the_event_first():
    line = format_event("otp.verify", result="failure", purpose="login", ip="203.0.113.7", attempts=3)
    assert line == "event=otp.verify result=failure purpose=login ip=203.0.113.7 attempts=3"


def test_recipient_fields_are_masked_even_when_the_caller_passes_them_in_clear():
    line = format_event("otp.send", recipient="jane@example.com", phone="+447700900789", email="bob@example.org")
    assert line == "event=otp.send recipient=j***@example.com phone=+44*******789 email=b***@example.org"


def test_secret_fields_are_redacted_whatever_their_value():
    line = format_event("otp.verify", code="042917", token="abc", password="hunter2")
    assert "042917" not in line
    assert line == "event=otp.verify code=[redacted] token=[redacted] password=[redacted]"


def test_values_that_could_break_the_line_are_quoted():
    line = format_event("otp.send", reason="no such code", error="bad\nevent=forged", empty="", missing=None, ok=True)
    assert "\n" not in line
    assert line == ('event=otp.send reason="no such code" error="bad\\nevent=forged" empty="" missing=- ok=true')


def test_log_event_writes_one_masked_record_at_the_given_level(caplog):
    with caplog.at_level(logging.INFO, logger="tests.masking"):
        log_event(logger, "otp.verify", level=logging.WARNING, result="locked", recipient="jane@example.com")
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == "event=otp.verify result=locked recipient=j***@example.com"


def test_log_event_writes_nothing_below_the_logger_level(caplog):
    with caplog.at_level(logging.WARNING, logger="tests.masking"):
        log_event(logger, "otp.send", recipient="jane@example.com")
    assert caplog.records == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Your code is 042917.", "Your code is [redacted]."),
        ('{"Message": "code 042917"}', '{"Message": "code [redacted]"}'),
        ("to +447400123456 at 2025-10-29 04:29:17", "to +447400123456 at 2025-10-29 04:29:17"),
        ("took 1.123456 s, id a123456, total 1234567", "took 1.123456 s, id a123456, total 1234567"),
    ],
)
def test_the_filter_redacts_standalone_runs_of_code_length_only(text, expected):
    assert redact_codes(text) == expected


def test_the_filter_redacts_formatted_arguments_and_tracebacks():
    record = logging.LogRecord("sdk", logging.DEBUG, __file__, 1, "body=%s", ("Message=Your+code+is 042917",), None)
    try:
        raise ValueError("rejected code 042917")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    assert RedactCodesFilter().filter(record) is True
    rendered = logging.Formatter().format(record)
    assert "042917" not in rendered
    assert "body=Message=Your+code+is [redacted]" in rendered
    assert "ValueError: rejected code [redacted]" in rendered


def test_the_filter_follows_the_configured_code_length(settings):
    settings.OTP_LENGTH = 8
    assert redact_codes("code 04291788 and 042917") == "code [redacted] and 042917"
