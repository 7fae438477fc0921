"""Error reports hide every setting that may carry a secret, connection URLs included."""

from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter


class ExceptionReporterFilter(SafeExceptionReporterFilter):
    # Django's own list, plus URLs that may hold a password (redis://:secret@host, postgres://...)
    # and the Flower login.
    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_(?:CLUSTER_)?URL|BROKER_URL|FLOWER",
        flags=re.I,
    )
