"""LOG_FORMAT=json: one JSON object per line, with the logfmt line's fields, still masked and redacted."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest

from otpsite.logs import JsonLineFormatter, LogfmtFormatter, RedactCodesFilter, log_event

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_DECODER = json.JSONDecoder()


def parse_event(message: str) -> dict[str, Any] | None:
    """The fields of a logfmt event line as a reader of the logs gets them back, or None."""
    if not message.startswith("event="):
        return None
    fields: dict[str, Any] = {}
    position = 0
    while position < len(message):
        key = _KEY.match(message, position)
        if key is None:
            return None
        position = key.end()
        value: Any
        if message.startswith('"', position):
            try:
                value, position = _DECODER.raw_decode(message, position)
            except json.JSONDecodeError:
                return None
        else:
            end = message.find(" ", position)
            end = len(message) if end == -1 else end
            value, position = message[position:end], end
            value = None if value == "-" else value
        fields[key.group(1)] = value
        if position < len(message):
            if message[position] != " ":
                return None
            position += 1
    return fields


@pytest.fixture
def lines() -> Iterator[tuple[logging.Logger, io.StringIO, io.StringIO]]:
    """A logger writing through the service's filter to a JSON handler and a logfmt handler."""
    logger = logging.getLogger("tests.json_logs")
    json_out, plain_out = io.StringIO(), io.StringIO()
    handlers = []
    for stream, formatter in ((json_out, JsonLineFormatter()), (plain_out, logging.Formatter("%(message)s"))):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(RedactCodesFilter())
        handlers.append(handler)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, json_out, plain_out
    for handler in handlers:
        logger.removeHandler(handler)


def test_a_json_line_has_the_fields_of_the_logfmt_line(lines):
    logger, json_out, plain_out = lines

    reason = 'a "quoted" value = with spaces\nand a newline'
    log_event(logger, "otp.send", result="rate_limited", recipient="jane.doe@example.com", scope="ip",
              reason=reason, code="123456", empty="", missing=None)  # fmt: skip

    [line] = json_out.getvalue().splitlines()
    entry = json.loads(line)
    assert {"time", "level", "logger"} <= set(entry) and entry["level"] == "INFO"
    assert entry["logger"] == "tests.json_logs"
    fields = {k: v for k, v in entry.items() if k not in ("time", "level", "logger")}
    assert fields == parse_event(plain_out.getvalue().strip())
    assert fields == {
        "event": "otp.send",
        "result": "rate_limited",
        "recipient": "j***@example.com",
        "scope": "ip",
        "reason": 'a "quoted" value = with spaces\nand a newline',
        "code": "[redacted]",
        "empty": "",
        "missing": None,
    }


def test_a_code_inside_a_value_is_redacted_in_the_json_line_too(lines, settings):
    logger, json_out, _ = lines

    log_event(logger, "messaging.attempt", error="provider echoed: Your code is 482913")

    assert "482913" not in json_out.getvalue()
    assert json.loads(json_out.getvalue())["error"] == "provider echoed: Your code is [redacted]"


def test_other_messages_and_tracebacks_keep_their_text(lines):
    logger, json_out, _ = lines

    logger.info("worker ready with event=fake at the end")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("it failed")

    first, second = (json.loads(line) for line in json_out.getvalue().splitlines())
    assert first["message"] == "worker ready with event=fake at the end"
    assert second["message"] == "it failed" and "ValueError: boom" in second["exception"]
    assert second["level"] == "ERROR"


def test_numbers_and_flags_become_text_and_a_code_shaped_number_is_redacted_in_both_formats(lines):
    logger, json_out, plain_out = lines

    log_event(logger, "otp.recovery", republished=482913, settled_stale=2, dry_run=False, blame="-")

    assert json.loads(json_out.getvalue())["republished"] == "[redacted]"
    plain = plain_out.getvalue().strip()
    assert plain == "event=otp.recovery republished=[redacted] settled_stale=2 dry_run=false blame=-"
    fields = {k: v for k, v in json.loads(json_out.getvalue()).items() if k not in ("time", "level", "logger")}
    assert fields == parse_event(plain)


@pytest.mark.parametrize("message", ["event=x a=1", "event=x key", 'event=x key="unterminated'])
def test_a_message_that_only_looks_like_an_event_is_kept_as_a_message(lines, message):
    logger, json_out, _ = lines

    logger.info(message)

    entry = json.loads(json_out.getvalue())
    assert entry["message"] == message and "event" not in entry


def test_the_logfmt_formatter_writes_time_level_logger_and_the_line(lines):
    logger, _, _ = lines
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(LogfmtFormatter())
    handler.addFilter(RedactCodesFilter())
    logger.addHandler(handler)
    try:
        log_event(logger, "otp.verify", result="failure", recipient="jane@example.com")
    finally:
        logger.removeHandler(handler)

    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO tests.json_logs "
        r"event=otp.verify result=failure recipient=j\*\*\*@example.com\n",
        out.getvalue(),
    ), out.getvalue()
