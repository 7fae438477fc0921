"""One row per Idempotency-Key a caller used: the request's fingerprint and, once done, its answer."""

from __future__ import annotations

from django.db import models


class RecordState(models.TextChoices):
    # The first request with this key is running; another one with the same key gets 409.
    IN_FLIGHT = "in_flight", "In flight"
    # It finished with a 2xx: the same key and body get this answer again.
    DONE = "done", "Done"


class IdempotencyRecord(models.Model):
    # SHA-256 of (caller, method, path, key): the key itself is the caller's and is not kept.
    scope = models.CharField(max_length=64, unique=True)
    # SHA-256 of the body's canonical JSON.
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=16, choices=RecordState.choices, default=RecordState.IN_FLIGHT)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    body = models.JSONField(null=True, blank=True)
    # When the first request started (in flight) and so when the 24 h window ends.
    created_at = models.DateTimeField()

    class Meta:
        db_table = "idempotency_records"
        indexes = [models.Index(fields=["created_at"])]
