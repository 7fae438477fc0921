"""Delivering callback events: at least once, retried with exponential backoff for a day, then given up.

An event makes one CallbackDelivery per subscribed endpoint (one webhook-id for all its attempts),
published after commit to the `callbacks` queue. A worker claims the delivery, POSTs it signed, and
records the attempt. A failure schedules the next attempt (`next_attempt_at`); the beat sweep
(`dispatch_due`) publishes deliveries that are due, so retries survive a lost task or a restart. A
delivery with no 2xx by CALLBACKS_RETRY_WINDOW_SECONDS after its event is failed, and its endpoint
disabled with a notice in admin: it gets nothing more until an operator or the tenant enables it.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Tenant
from notifications.callbacks import signing
from notifications.callbacks.addresses import UrlRefused, check_url
from notifications.models import CallbackAttempt, CallbackDelivery, CallbackEndpoint, CallbackStatus
from otpsite.logs import log_event

logger = logging.getLogger("notifications.callbacks")
Publish = Callable[[int, str], None]


def lease() -> timedelta:
    """How long a worker's claim on an attempt holds: past any attempt's timeouts."""
    return timedelta(seconds=settings.CALLBACKS_TIMEOUT_SECONDS * 3 + 30)


def backoff_delay(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: base x 2^(attempts-1), capped, minus up to a quarter of jitter.

    Each delay is longer than the one before until the cap (the jitter never overlaps a doubling).
    """
    step = min(settings.CALLBACKS_BACKOFF_MAX_SECONDS, settings.CALLBACKS_BACKOFF_BASE_SECONDS * 2 ** (attempts - 1))
    return step * random.uniform(0.75, 1.0)


def enqueue_event(tenant: Tenant, event: str, data: dict[str, Any], *, publish: Publish) -> list[int]:
    """One delivery per enabled endpoint of `tenant` that wants `event`; published after commit."""
    now = timezone.now()
    payload = {"type": event, "timestamp": now.isoformat(), "data": data}
    endpoints = [e for e in CallbackEndpoint.objects.filter(tenant=tenant, enabled=True) if e.wants(event)]
    with transaction.atomic():
        pks = [
            CallbackDelivery.objects.create(endpoint=endpoint, webhook_id=f"msg_{uuid.uuid4().hex}", event=event,
                                            payload=payload, next_attempt_at=now, created_at=now).pk
            for endpoint in endpoints
        ]  # fmt: skip
    transaction.on_commit(lambda: _publish_all(pks, now, publish))
    return pks


def _publish_all(pks: list[int], due_at: datetime, publish: Publish) -> None:
    for pk in pks:
        try:
            publish(pk, due_at.isoformat())
        except Exception as err:  # the broker is down: the sweep publishes it when it is due
            log_event(logger, "callback.publish_failed", level=logging.WARNING, error=type(err).__name__)


def _due(*, now: datetime) -> QuerySet[CallbackDelivery]:
    return CallbackDelivery.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease()),
        status=CallbackStatus.PENDING,
        next_attempt_at__lte=now,
    )


def anything_due(*, now: datetime) -> bool:
    """Whether a callback attempt is due (beat asks before sending the dispatch sweep)."""
    return _due(now=now).exists()


def dispatch_due(*, now: datetime, publish: Publish, limit: int = 500) -> int:
    """Publish every pending delivery whose next attempt is due at `now` and that no worker holds."""
    due = _due(now=now).order_by("next_attempt_at")
    pks = list(due.values_list("pk", flat=True)[:limit])
    for pk in pks:
        publish(pk, now.isoformat())
    return len(pks)


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(endpoint: CallbackEndpoint, delivery: CallbackDelivery, *, now: datetime) -> Answer:
    """POST the delivery's payload, signed, without following redirects."""
    try:
        check_url(endpoint.url)
    except UrlRefused as err:
        return Answer(None, f"refused: {err}")
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    headers = signing.headers(
        endpoint.secret, webhook_id=delivery.webhook_id, timestamp=int(now.timestamp()), body=body
    )
    timeout = settings.CALLBACKS_TIMEOUT_SECONDS
    try:
        response = requests.post(endpoint.url, data=body, headers=headers, timeout=(timeout, timeout),
                                 allow_redirects=False)  # fmt: skip
    except requests.RequestException as err:
        return Answer(None, type(err).__name__)
    response.close()
    return Answer(response.status_code)


def attempt(delivery_pk: int, *, due_at: datetime, send: Callable[..., Answer] = post) -> str:
    """Make the delivery's next attempt if it is still due by `due_at` and nobody holds it. Returns what happened."""
    now = timezone.now()
    claimed = CallbackDelivery.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - lease()),
        pk=delivery_pk,
        status=CallbackStatus.PENDING,
        next_attempt_at__lte=due_at,
    ).update(claimed_at=now)
    if not claimed:
        return "not due"
    delivery = CallbackDelivery.objects.select_related("endpoint__tenant").get(pk=delivery_pk)
    if not delivery.endpoint.enabled:
        CallbackDelivery.objects.filter(pk=delivery_pk).update(status=CallbackStatus.FAILED, claimed_at=None)
        return "endpoint disabled"
    started = time.monotonic()
    answer = send(delivery.endpoint, delivery, now=now)
    duration_ms = int((time.monotonic() - started) * 1000)
    return _settle(delivery, answer, now=now, duration_ms=duration_ms)


def _settle(delivery: CallbackDelivery, answer: Answer, *, now: datetime, duration_ms: int) -> str:
    attempts = delivery.attempts + 1
    row = CallbackAttempt(delivery=delivery, attempted_at=now, status_code=answer.status_code,
                          error=answer.error[:300], duration_ms=duration_ms)  # fmt: skip
    fields: dict[str, Any] = {"attempts": attempts, "claimed_at": None}
    if answer.ok:
        outcome, fields["status"], fields["succeeded_at"] = "succeeded", CallbackStatus.SUCCEEDED, now
    else:
        delay = backoff_delay(attempts)
        window_ends = delivery.created_at + timedelta(seconds=settings.CALLBACKS_RETRY_WINDOW_SECONDS)
        if now + timedelta(seconds=delay) > window_ends:
            outcome, fields["status"] = "failed", CallbackStatus.FAILED
        else:
            outcome, row.retry_in_seconds = "retry", delay
            fields["next_attempt_at"] = now + timedelta(seconds=delay)
    with transaction.atomic():
        row.save()
        CallbackDelivery.objects.filter(pk=delivery.pk).update(**fields)
        if outcome == "failed":
            disable(delivery.endpoint, reason=f"no 2xx answer for {delivery.event} {delivery.webhook_id} within "
                                              f"{settings.CALLBACKS_RETRY_WINDOW_SECONDS} s", now=now)  # fmt: skip
    log_event(logger, "callback.attempt", tenant=delivery.endpoint.tenant.slug, webhook_id=delivery.webhook_id,
              status_code=answer.status_code or "-", outcome=outcome, attempts=attempts)  # fmt: skip
    return outcome


def disable(endpoint: CallbackEndpoint, *, reason: str, now: datetime) -> None:
    CallbackEndpoint.objects.filter(pk=endpoint.pk).update(enabled=False, disabled_at=now, disabled_reason=reason[:300])
    log_event(logger, "callback.endpoint_disabled", level=logging.WARNING, tenant=endpoint.tenant.slug,
              endpoint=str(endpoint.uid))  # fmt: skip


def replay(delivery: CallbackDelivery, *, publish: Publish) -> None:
    """Send a delivery again (same webhook-id and body), whatever became of it."""
    now = timezone.now()
    CallbackDelivery.objects.filter(pk=delivery.pk).update(
        status=CallbackStatus.PENDING, next_attempt_at=now, claimed_at=None, created_at=now
    )
    transaction.on_commit(lambda: _publish_all([delivery.pk], now, publish))
