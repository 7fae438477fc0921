"""A last line of defence: hide anything shaped like a one-time code in rendered log records.

The service's own code never logs a code (tests show it with unfiltered captured logs). This
filter is for what it does not control: a provider SDK or HTTP library that logs a request body
("Your code is 042917") when someone turns LOG_LEVEL down to DEBUG. Attach it to handlers, not
loggers, so it sees every record that is written, including those from third-party loggers.

It replaces each run of exactly OTP_LENGTH digits that stands alone (not part of a longer number
or a word, so timestamps, phone numbers and ids are left alone) with ``[redacted]``. The price is
that an unrelated number of that length is hidden too, which is acceptable in a log.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from django.conf import settings

REDACTED = "[redacted]"


@lru_cache(maxsize=4)
def _code_pattern(length: int) -> re.Pattern[str]:
    # Not inside a word or a longer number, not part of a decimal, not the tail of "+4477...".
    return re.compile(rf"(?<![\w+])(?<!\d\.)\d{{{length}}}(?!\w)(?!\.\d)")


def redact_codes(text: str) -> str:
    """The text with every standalone run of OTP_LENGTH digits replaced by ``[redacted]``."""
    return _code_pattern(settings.OTP_LENGTH).sub(REDACTED, text)


class RedactCodesFilter(logging.Filter):
    """Rewrites the record's message (and traceback text) with codes redacted; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_codes(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_codes(record.exc_text)
        return True
