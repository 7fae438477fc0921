"""Messaging's Prometheus metrics (provider attempts, messages, failovers, cost, breakers, receipts)
and the one-line calls that record them; otp.metrics holds the send and verify counters.

Counters and histograms are recorded where things happen (the failover loop, the breaker, the
receipts) through the functions below, so instrumented modules hold a single call each. Figures
that are facts about the present (breaker states, queue depth, the oldest undelivered code, quota
use) are read when /metrics is scraped (observability.collectors).

Under gunicorn and Celery's prefork pool each process writes its own files in
PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode), a directory on the node's own
disk; the node's /metrics merges them (observability.scrape), and Prometheus sums the nodes.
Every metric has labels, so importing this module writes no file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

if TYPE_CHECKING:
    from messaging.models import CommunicationLog

# Seconds from a code being accepted to a provider accepting it (retries can take minutes).
ACCEPT_TO_PROVIDER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# Seconds of one provider call (timeouts are a few seconds).
PROVIDER_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Attempt outcomes that were calls to the provider (the others are skips).
CALLED_OUTCOMES = frozenset({"sent", "provider_fault", "recipient_fault", "retry_later"})
# Attempt outcomes that make a failed message's cause something other than delivery, first match wins.
CAUSES = {"recipient_fault": "recipient", "skipped_budget": "budget"}

ATTEMPTS = Counter(
    "messaging_provider_attempts",
    "Provider attempts by channel, provider and outcome "
    "(sent, provider_fault, recipient_fault, retry_later, skipped_*).",
    ["channel", "provider", "outcome"],
)
PROVIDER_CALL_SECONDS = Histogram(
    "messaging_provider_call_seconds",
    "Duration of provider calls (attempts that called the provider), by provider and outcome.",
    ["provider", "outcome"],
    buckets=PROVIDER_CALL_BUCKETS,
)
MESSAGES = Counter(
    "messaging_messages",
    "Messages settled, by channel and status (sent or failed); a failure's cause is 'recipient' when a "
    "provider refused the recipient, 'budget' when the tenant's spending cap refused it (neither is a "
    "delivery fault), else 'delivery'.",
    ["channel", "status", "cause"],
)
FAILOVERS = Counter(
    "messaging_failovers",
    "Messages sent by a provider other than the first of their chain, by channel and the provider that sent.",
    ["channel", "provider"],
)
ACCEPT_TO_PROVIDER_SECONDS = Histogram(
    "messaging_accept_to_provider_seconds",
    "Time from a message being accepted (log created) to a provider accepting it (sent_at).",
    ["channel"],
    buckets=ACCEPT_TO_PROVIDER_BUCKETS,
)
COST = Counter("messaging_cost_usd", "Cost of sent messages in USD, by channel and provider.", ["channel", "provider"])
BREAKER_TRANSITIONS = Counter(
    "messaging_breaker_transitions",
    "Circuit breaker state changes, by provider and the states left and entered.",
    ["provider", "from_state", "to_state"],
)
# Delivery receipts (provider status webhooks): the receipts handler calls receipt_recorded().
RECEIPTS = Counter(
    "messaging_receipts",
    "Delivery receipts from provider status webhooks, by provider and the status they report.",
    ["provider", "status"],
)

# Every task a worker finishes (deliveries and the periodic sweeps), recorded by a Celery signal.
WORKER_TASKS = Counter(
    "messaging_worker_tasks",
    "Tasks workers finished, by task name and final state (SUCCESS, RETRY, FAILURE, ...).",
    ["task", "state"],
)


def attempt_recorded(*, channel: str, provider: str, outcome: str, seconds: float) -> None:
    ATTEMPTS.labels(channel=channel, provider=provider, outcome=outcome).inc()
    if outcome in CALLED_OUTCOMES:
        PROVIDER_CALL_SECONDS.labels(provider=provider, outcome=outcome).observe(seconds)


def message_sent(log: CommunicationLog, *, failover: bool) -> None:
    """A provider took the message (provider_used, cost and sent_at are set): count, failover, cost, latency.

    failover: the provider that took it is not the first of its channel's chain as configured now.
    """
    channel, provider = str(log.channel), log.provider_used
    MESSAGES.labels(channel=channel, status="sent", cause="").inc()
    if failover:
        FAILOVERS.labels(channel=channel, provider=provider).inc()
    COST.labels(channel=channel, provider=provider).inc(float(log.cost or 0))
    if log.created_at and log.sent_at:
        waited = (log.sent_at - log.created_at).total_seconds()
        ACCEPT_TO_PROVIDER_SECONDS.labels(channel=channel).observe(max(0.0, waited))


def message_failed(log: CommunicationLog) -> None:
    """Given up on: a recipient fault (the recipient's problem), the tenant's budget, or every provider
    failed, or it expired."""
    faults = set(log.attempts.filter(outcome__in=CAUSES).values_list("outcome", flat=True))
    cause = next((CAUSES[outcome] for outcome in CAUSES if outcome in faults), "delivery")
    MESSAGES.labels(channel=str(log.channel), status="failed", cause=cause).inc()


def breaker_changed(provider: str, from_state: str, to_state: str) -> None:
    BREAKER_TRANSITIONS.labels(provider=provider, from_state=from_state, to_state=to_state).inc()


def receipt_recorded(provider: str, status: str) -> None:
    """For the receipts webhook handler: one receipt and the status it reports."""
    RECEIPTS.labels(provider=provider, status=status).inc()


def task_finished(task: str, state: str) -> None:
    WORKER_TASKS.labels(task=task, state=state or "UNKNOWN").inc()
