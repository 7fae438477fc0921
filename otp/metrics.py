"""OTP's Prometheus metrics (send and verify requests, SMS pumping blocks) and the calls that record them.

Recorded by the send and verify views and the pumping guard; messaging.metrics holds the delivery
metrics, and /metrics (observability.views) exports both. Every metric has labels, so importing
this module writes no file in multiprocess mode.
"""

from __future__ import annotations

from prometheus_client import Counter

SENDS = Counter(
    "otp_sends",
    "Send requests by channel and result; refused ones by reason (rate limit scope, destination, unavailable).",
    ["channel", "result", "reason"],
)
SMS_PUMPING_BLOCKS = Counter(
    "otp_sms_pumping_blocks",
    "Number prefixes the SMS pumping guard blocked (many sends, few verified), by destination country.",
    ["country"],
)
VERIFIES = Counter("otp_verifies", "Verify requests by result (success, failure, locked, unavailable).", ["result"])


def send_accepted(channel: str) -> None:
    SENDS.labels(channel=channel, result="accepted", reason="").inc()


def send_refused(channel: str, reason: str) -> None:
    """reason: a rate limit scope, "destination", or "unavailable" (a 503)."""
    SENDS.labels(channel=channel, result="refused", reason=reason).inc()


def sms_pumping_block(country: str) -> None:
    SMS_PUMPING_BLOCKS.labels(country=country).inc()


def verify_finished(result: str) -> None:
    VERIFIES.labels(result=result).inc()
