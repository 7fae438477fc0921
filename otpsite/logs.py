"""LOG_FORMAT=json: one JSON object per line, with the fields of the logfmt line it replaces.

A logfmt line is ``<time> <level> <logger> event=<name> key=value ...`` (messaging.masking
writes the event part, masking recipients and redacting secrets). The JSON line holds the same
fields: ``{"time": ..., "level": ..., "logger": ..., "event": ..., "key": "value", ...}``. The
event fields are read back from the record's final message, after the handler's filters ran, so
the code-redaction filter applies to them as it does to the logfmt line. A message that is not
an event (Django's, Celery's) becomes ``"message"``; a traceback becomes ``"exception"``.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_DECODER = json.JSONDecoder()


def parse_event(message: str) -> dict[str, Any] | None:
    """The fields of a messaging.masking logfmt line, or None if the message is not one."""
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


class JsonLineFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside values are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
        }
        fields = parse_event(message)
        if fields is None:
            line["message"] = message
        else:
            line.update({key: value for key, value in fields.items() if key not in line})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
