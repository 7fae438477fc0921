"""The one home of redaction: what of a recipient, a code or a credential may be written anywhere.

Every layer that writes text others read (log lines, a breaker's last error, an attempt's error,
health answers, error reports) hides secrets and recipients with the rules here:

- a recipient is masked (:func:`mask_recipient`: ``j***@example.com``, ``+44*******789``), also
  inside free text such as a provider's error message (:func:`mask_recipients_in`);
- a log field named like a recipient is masked and one named like a secret is replaced by
  ``[redacted]`` (:func:`redact_field`): callers should not pass secrets, and a mistake must not leak one;
- a known secret (the code being sent) is replaced wherever it appears (:func:`redact_secrets`);
- credentials in an error text (bearer tokens, ``password=``, URLs with a password, API keys, and
  the values of the settings that hold credentials) are replaced (:func:`redact_credentials`);
- a run of exactly OTP_LENGTH digits standing alone is replaced (:func:`redact_codes`): the last
  line of defence for log records the service does not write itself (otpsite.logs applies it).

Django's error reports hide the settings whose names match :data:`SECRET_SETTING_NAMES`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings

REDACTED = "[redacted]"
RECIPIENT_FIELDS = frozenset({"recipient", "email", "phone", "to"})
SECRET_FIELDS = frozenset({"code", "otp", "password", "token", "secret"})
# Settings whose values are credentials: replaced wherever they appear in an error text.
CREDENTIAL_SETTINGS = ("SENDGRID_API_KEY", "TWILIO_AUTH_TOKEN", "AWS_SECRET_ACCESS_KEY", "SMTP_PASSWORD", "SECRET_KEY")
# Settings an error report hides: Django's own list, plus URLs that may hold a password
# (redis://:secret@host, postgres://...) and the Flower login.
SECRET_SETTING_NAMES = re.compile(
    "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_(?:CLUSTER_)?URL|BROKER_URL|FLOWER",
    flags=re.I,
)

# Digits of a phone number kept in clear at each end: country code side and last three.
_PHONE_HEAD = 2
_PHONE_TAIL = 3
# An address or an international number inside free text (a provider's error message).
_EMAIL_IN_TEXT = re.compile(r"[^\s<>()\[\]\"',;:@]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+")
_PHONE_IN_TEXT = re.compile(r"\+\d{7,15}\b")
# Each pattern's group 1 is kept; what follows it is the secret.
_CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\b((?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)\b((?:api[_-]?key|auth[_-]?token|access[_-]?token|token|password|secret|signature)\s*[=:]\s*)[^\s,;&]+"
    ),
    re.compile(r"(://)[^/@\s:]+:[^/@\s]+(?=@)"),
    re.compile(r"()\bSG\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"\b(AC)[0-9a-fA-F]{32}\b"),  # a Twilio Account SID
)


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


def redact_field(key: str, value: Any) -> Any:
    """A log field's value as it may be written: secrets replaced, recipients masked."""
    if key in SECRET_FIELDS:
        return REDACTED
    if key in RECIPIENT_FIELDS and value is not None:
        return mask_recipient(str(value))
    return value


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every occurrence of each (non-empty) secret replaced by ``[redacted]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text


# Tenant credentials this process has opened (messaging.tenancy): hidden like the settings' ones.
_opened_secrets: set[str] = set()


def remember_secret(value: str) -> None:
    """Hide `value` (a credential read from the database) wherever redact_credentials looks from now on."""
    if len(value) >= 4:
        _opened_secrets.add(value)


def redact_credentials(text: str) -> str:
    """`text` with credential settings' values and credential-shaped parts replaced by ``[redacted]``."""
    for name in CREDENTIAL_SETTINGS:
        value = str(getattr(settings, name, "") or "")
        if len(value) >= 4:
            text = text.replace(value, REDACTED)
    for pattern in _CREDENTIAL_PATTERNS:
        text = pattern.sub(rf"\1{REDACTED}", text)
    return redact_opened_secrets(text)


def redact_opened_secrets(text: str) -> str:
    """`text` with every tenant credential this process has opened replaced by ``[redacted]``."""
    for value in tuple(_opened_secrets):
        text = text.replace(value, REDACTED)
    return text


@lru_cache(maxsize=4)
def _code_pattern(length: int) -> re.Pattern[str]:
    # Not inside a word or a longer number, not part of a decimal, not the tail of "+4477...".
    return re.compile(rf"(?<![\w+])(?<!\d\.)\d{{{length}}}(?!\w)(?!\.\d)")


def redact_codes(text: str) -> str:
    """The text with every standalone run of OTP_LENGTH digits replaced by ``[redacted]``.

    The price is that an unrelated number of that length is hidden too, which is acceptable in a
    log; timestamps, phone numbers and ids (longer numbers, or parts of words) are left alone.
    """
    return _code_pattern(settings.OTP_LENGTH).sub(REDACTED, text)
