"""Error reports hide every setting that may carry a secret, connection URLs included."""

from __future__ import annotations

from django.views.debug import SafeExceptionReporterFilter

from otpsite.redaction import SECRET_SETTING_NAMES


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    # Django's own list, plus URLs that may hold a password and the Flower login (otpsite.redaction).
    hidden_settings = SECRET_SETTING_NAMES
