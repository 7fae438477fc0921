"""Masked recipients and structured log lines, so no address, number or code reaches a log.

Log line format (logfmt): ``event=<name> key=value key=value ...``, keys in the order given,
``event`` always first. A value that is empty or holds whitespace, quotes, ``=`` or control
characters is written as a JSON string (``reason="no such code"``), so one event is always one
line and a value cannot forge another key. ``None`` is written as ``-``.

Fields named like a recipient (``recipient``, ``email``, ``phone``, ``to``) are masked by
:func:`log_event` itself, and fields named like a secret (``code``, ``otp``, ``password``,
``token``, ``secret``) are replaced by ``[redacted]``: callers should not pass them, and a
mistake must not leak one.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

RECIPIENT_FIELDS = frozenset({"recipient", "email", "phone", "to"})
SECRET_FIELDS = frozenset({"code", "otp", "password", "token", "secret"})
_PLAIN_VALUE = re.compile(r"^[^\s\"'=\\\x00-\x1f\x7f]+$")
# Digits of a phone number kept in clear at each end: country code side and last three.
_PHONE_HEAD = 2
_PHONE_TAIL = 3


def mask_recipient(value: str) -> str:
    """The recipient with most of it hidden: ``j***@example.com``, ``+44*******789``.

    Masking is idempotent (a masked value masks to itself). Anything that is neither an email
    address nor a phone number is hidden entirely.
    """
    value = (value or "").strip()
    if not value:
        return ""
    if "@" in value:
        local, _, domain = value.rpartition("@")
        return f"{local[:1]}***@{domain}"
    if value.startswith("+") or value.isdigit():
        return _mask_phone(value)
    return "***"


# An address or an international number inside free text (a provider's error message).
_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\]\"',;:@]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}\b")


def mask_recipients_in(text: str) -> str:
    """The text with every email address and +number in it masked, e.g. for a provider's error."""
    text = _EMAIL_IN_TEXT.sub(lambda m: mask_recipient(m.group(0)), text or "")
    return _PHONE_IN_TEXT.sub(lambda m: mask_recipient(m.group(0)), text)


def _mask_phone(value: str) -> str:
    plus = "+" if value.startswith("+") else ""
    digits = value.lstrip("+")
    if len(digits) <= _PHONE_HEAD + _PHONE_TAIL + 2:
        # Too short to keep both ends and still hide most of it: keep only the last two.
        return plus + "*" * max(len(digits) - 2, 1) + digits[-2:]
    hidden = len(digits) - _PHONE_HEAD - _PHONE_TAIL
    return plus + digits[:_PHONE_HEAD] + "*" * hidden + digits[-_PHONE_TAIL:]


def format_event(event: str, **fields: Any) -> str:
    """One logfmt line for an event; see the module docstring for the rules."""
    parts = [f"event={_format_value(event)}"]
    for key, value in fields.items():
        if key in SECRET_FIELDS:
            value = "[redacted]"
        elif key in RECIPIENT_FIELDS and value is not None:
            value = mask_recipient(str(value))
        parts.append(f"{key}={_format_value(value)}")
    return " ".join(parts)


def log_event(logger: logging.Logger, event: str, *, level: int = logging.INFO, **fields: Any) -> None:
    """Write one structured line, e.g. ``event=otp.verify result=failure recipient=j***@example.com``.

    Recipient fields are masked and secret fields redacted here, whatever the caller passed.
    """
    if logger.isEnabledFor(level):
        logger.log(level, "%s", format_event(event, **fields))


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if _PLAIN_VALUE.match(text):
        return text
    return json.dumps(text, ensure_ascii=True)
