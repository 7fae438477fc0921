"""Claiming an Idempotency-Key, and what a request with a key already seen gets.

The semantics are Stripe's, as the IETF httpapi draft writes them: a key is scoped to (caller,
method, path); the same key with the same body within IDEMPOTENCY_TTL_SECONDS (24 h) gets the first
answer again; with a different body, 422; while the first request is still running, 409.

The first request inserts its row before it runs (a unique scope, so of many concurrent requests
exactly one inserts). A request whose process died leaves its row in flight; after
IDEMPOTENCY_LEASE_SECONDS another request with the same key and body may take it over.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from otpsite.idempotency.models import IdempotencyRecord, RecordState

MAX_KEY_LENGTH = 255


def fingerprint(body: Any) -> str:
    """SHA-256 of the body as canonical JSON: sorted keys, no spaces, UTF-8."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_of(*, caller: str, method: str, path: str, key: str) -> str:
    return hashlib.sha256("\n".join((caller, method.upper(), path, key)).encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """What to do with a request: run it (owning `record`), replay a stored answer, or refuse it."""

    action: str  # "run", "replay", "conflict" (409), "mismatch" (422)
    record: IdempotencyRecord | None = None


def claim(scope: str, print_: str, *, now: datetime) -> Decision:
    """Insert the key's row, or decide from the row already there."""
    for _ in range(2):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(scope=scope, fingerprint=print_, created_at=now)
            return Decision("run", record)
        except IntegrityError:
            existing = IdempotencyRecord.objects.filter(scope=scope).first()
        if existing is None:
            continue  # deleted between our insert and our read: try the insert again
        if existing.created_at <= now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS):
            IdempotencyRecord.objects.filter(pk=existing.pk, created_at=existing.created_at).delete()
            continue  # past its window: the key is new again
        return _decide(existing, print_, now=now)
    return Decision("conflict")


def _decide(existing: IdempotencyRecord, print_: str, *, now: datetime) -> Decision:
    if existing.fingerprint != print_:
        return Decision("mismatch")
    if existing.state == RecordState.DONE:
        return Decision("replay", existing)
    stale = now - timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    if existing.created_at < stale:
        taken = IdempotencyRecord.objects.filter(
            pk=existing.pk, state=RecordState.IN_FLIGHT, created_at=existing.created_at
        ).update(created_at=now)
        if taken:
            existing.created_at = now
            return Decision("run", existing)
    return Decision("conflict")


def complete(record: IdempotencyRecord, *, status_code: int, body: Any) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(state=RecordState.DONE, status_code=status_code, body=body)


def release(record: IdempotencyRecord) -> None:
    """The request did not succeed: forget the key, so the caller may try again with it."""
    IdempotencyRecord.objects.filter(pk=record.pk, state=RecordState.IN_FLIGHT).delete()


def purge_expired(*, now: datetime) -> int:
    cutoff = now - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
