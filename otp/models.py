"""One-time codes: only their HMAC is ever stored."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.db import models
from django.db.models import Q

from messaging.models import Channel, CommunicationLog

# The rules on a code, each written once (see messaging/conditions.py): querysets use them through
# OneTimeCode.objects (or through a log row's `one_time_code`), the one-statement writes
# (otp/lifecycle.py, otp/claim.py) as SQL.


def is_unspent() -> Q:
    """Neither used nor replaced by a newer code for the same (tenant, recipient, purpose)."""
    return Q(used_at__isnull=True, invalidated_at__isnull=True)


def is_live(now: Any) -> Q:
    """Unspent and not expired: a code that may still be delivered, resent and verified."""
    return is_unspent() & Q(expires_at__gt=now)


def is_owed_a_resend(now: Any) -> Q:
    """Live and not resent yet: a code that may get its one resend through the next provider."""
    return is_live(now) & Q(resent_at__isnull=True)


class OneTimeCodeQuerySet(models.QuerySet["OneTimeCode"]):
    def unspent(self) -> OneTimeCodeQuerySet:
        return self.filter(is_unspent())

    def live(self, now: datetime) -> OneTimeCodeQuerySet:
        return self.filter(is_live(now))

    def owed_a_resend(self, now: datetime) -> OneTimeCodeQuerySet:
        return self.filter(is_owed_a_resend(now))


# A code's CommunicationLog says metadata["kind"] == "otp" (otp.lifecycle writes it): messaging's
# receipts find otp's resend handler (messaging.resend_handlers) by it.
OTP_KIND = "otp"


class OneTimeCode(models.Model):
    """A code asked for by (tenant, recipient, purpose), delivered by a worker, used once.

    The worker generates the code and stores code_hash; until then the row cannot verify.
    """

    objects = OneTimeCodeQuerySet.as_manager()

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    tenant_id = models.CharField(max_length=64)
    recipient = models.CharField(max_length=320)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=64)
    # HMAC-SHA256 of the code, hex; empty until the worker generated the code.
    code_hash = models.CharField(max_length=64, blank=True, editable=False)
    # A receipt-driven resend through the next provider carries a new code; its HMAC goes here and
    # either code verifies, once, against the one attempt counter below.
    resend_code_hash = models.CharField(max_length=64, blank=True, editable=False)
    # Set when that resend was claimed (at most one per code) and why.
    resent_at = models.DateTimeField(null=True, blank=True)
    resend_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    # Wrong guesses against this code; at OTP_MAX_ATTEMPTS it is dead.
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer code for the same (tenant, recipient, purpose) replaced this one.
    invalidated_at = models.DateTimeField(null=True, blank=True)
    log = models.OneToOneField(
        CommunicationLog, on_delete=models.SET_NULL, null=True, blank=True, related_name="one_time_code"
    )

    class Meta:
        verbose_name = "one-time code"
        verbose_name_plural = "one-time codes"
        db_table = "otp_codes"  # the design's name, for dashboards and SQL written against it
        indexes = [models.Index(fields=["tenant_id", "recipient", "purpose", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.purpose} code {self.id}"
