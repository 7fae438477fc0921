"""LOG_FORMAT=json: one JSON object per line, with the logfmt line's fields, still masked and redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from messaging.logging_filters import RedactCodesFilter
from messaging.masking import log_event
from observability.logging import JsonLineFormatter, parse_event


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


@pytest.mark.parametrize("message", ["event=x key", 'event=x key="unterminated', "event=x a=1  b=2", "event=x 9=1"])
def test_a_line_that_is_not_well_formed_logfmt_is_kept_as_a_message(message):
    assert parse_event(message) is None
