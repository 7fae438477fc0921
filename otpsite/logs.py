"""The one logging module: an event carries its fields; one formatter writes logfmt, one writes JSON.

``log_event(logger, "otp.verify", result="failure", recipient=...)`` writes one record whose
``event`` and ``event_fields`` attributes (set with ``extra=``) hold the event's name and its
fields, already redacted by otpsite.redaction (recipients masked, secret-named fields replaced)
and as text: ``None`` stays ``None``, a boolean is ``true``/``false``, anything else its ``str()``.
Nothing is parsed back from text.

The record's message (what ``record.getMessage()``, test captures and third-party handlers see) is
the event's logfmt line, ``event=<name> key=value key=value ...``: keys in the order given,
``event`` first; a value that is empty or holds whitespace, quotes, ``=`` or control characters is
written as a JSON string (``reason="no such code"``), so one event is one line and a value cannot
forge another key; ``None`` is written as ``-``.

A handler carries :class:`RedactCodesFilter` (the last line of defence: a run of OTP_LENGTH digits
is redacted from the message, the event's fields and the traceback) and one of two formatters:
:class:`LogfmtFormatter` (``<time> <level> <logger> <message>``, LOG_FORMAT=logfmt) or
:class:`JsonLineFormatter` (one JSON object per line: ``time``, ``level``, ``logger``, then
``event`` and the fields; a record that is not an event has ``message``, a traceback ``exception``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from celery.app.trace import LOG_SUCCESS

from otpsite.redaction import redact_codes, redact_field, redact_opened_secrets

_PLAIN_VALUE = re.compile(r"^[^\s\"'=\\\x00-\x1f\x7f]+$")
LOGFMT_LINE = "%(asctime)s %(levelname)s %(name)s %(message)s"


class EventLine:
    """A record's message for an event: its logfmt line, rendered when first read."""

    __slots__ = ("_line", "event", "fields")

    def __init__(self, event: str, fields: dict[str, str | None]) -> None:
        self.event, self.fields, self._line = event, fields, ""

    def __str__(self) -> str:
        if not self._line:
            self._line = logfmt(self.event, self.fields)
        return self._line


def event_fields(**fields: Any) -> dict[str, str | None]:
    """The fields as an event carries them: redacted, and as text (``-`` is logfmt's ``None``)."""
    return {key: _text(redact_field(key, value)) for key, value in fields.items()}


def format_event(event: str, **fields: Any) -> str:
    """One logfmt line for an event, fields redacted; see the module docstring for the rules."""
    return logfmt(event, event_fields(**fields))


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Write one event, e.g. ``event=otp.verify result=failure recipient=j***@example.com``.

    Recipient fields are masked and secret fields redacted here, whatever the caller passed.
    """
    if logger.isEnabledFor(level):
        values = event_fields(**fields)
        logger.log(level, EventLine(event, values), extra={"event": event, "event_fields": values})


def logfmt(event: str, fields: dict[str, str | None]) -> str:
    return " ".join([f"event={_logfmt_value(event)}", *(f"{key}={_logfmt_value(v)}" for key, v in fields.items())])


def _text(value: Any) -> str | None:
    if value is None or value == "-":
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _logfmt_value(value: str | None) -> str:
    if value is None:
        return "-"
    if _PLAIN_VALUE.match(value):
        return value
    return json.dumps(value, ensure_ascii=True)


class DropTaskSuccessLines(logging.Filter):
    """Celery's "Task ... succeeded in ..." line, one per task (CELERY_WORKER_LOG_TASKS brings it back):
    it says what the attempt's own line says. Its retry and failure lines pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg != LOG_SUCCESS


class RedactCodesFilter(logging.Filter):
    """Hides anything shaped like a one-time code in every record a handler writes; never drops one.

    The service's own code never logs a code (tests show it with unfiltered captured logs). This
    filter is for what it does not control: a provider SDK or HTTP library that logs a request body
    ("Your code is 042917") when someone turns LOG_LEVEL down to DEBUG. Attach it to handlers, not
    loggers, so it sees every record that is written, including those from third-party loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        fields = getattr(record, "event_fields", None)
        if isinstance(fields, dict):
            # The event's own fields first (JSON writes them), then its line from them (logfmt).
            event = hide(str(getattr(record, "event", "")))
            fields = {key: None if value is None else hide(value) for key, value in fields.items()}
            record.__dict__.update(event=event, event_fields=fields)
            record.msg, record.args = EventLine(event, fields), None
        message = record.getMessage()
        redacted = hide(message)
        if redacted != message or fields is not None:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = hide(record.exc_text)
        return True


def hide(text: str) -> str:
    """Codes, and the tenant credentials this process has opened, out of a log record's text."""
    return redact_opened_secrets(redact_codes(text))


class LogfmtFormatter(logging.Formatter):
    """LOG_FORMAT=logfmt: ``<time> <level> <logger> <message>``, an event's message being its logfmt line."""

    def __init__(self, fmt: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(fmt or LOGFMT_LINE, *args, **kwargs)


class JsonLineFormatter(logging.Formatter):
    """LOG_FORMAT=json: one JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = getattr(record, "event_fields", None)
        if isinstance(fields, dict):
            line["event"] = getattr(record, "event", "")
            line.update({key: value for key, value in fields.items() if key not in line})
        else:
            line["message"] = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
