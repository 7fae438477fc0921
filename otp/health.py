"""What otp reports to health: accepted codes not yet handed to a provider (GET /health/messaging)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from otp.recovery import backlog_report

# A code accepted this long ago and still not handed to a provider makes pending_deliveries
# "delayed" (the same threshold as the alert on messaging_oldest_undelivered_age_seconds).
PENDING_DELAYED_SECONDS = 60


def pending_deliveries(*, detailed: bool = False) -> dict[str, Any]:
    """Accepted codes not yet handed to a provider: how many, and the age of the oldest (staff).

    Anyone else sees its state only: "ok", "delayed" (the oldest has waited more than
    PENDING_DELAYED_SECONDS, the alert's threshold) or "unavailable" (no database).
    """
    report = backlog_report(now=timezone.now())
    age = report.get("oldest_age_seconds")
    state = "unavailable" if "error" in report else "delayed" if (age or 0) > PENDING_DELAYED_SECONDS else "ok"
    return {"state": state, **report} if detailed else {"state": state}
