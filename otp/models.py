"""One-time codes: only their HMAC is ever stored."""

from __future__ import annotations

import uuid

from django.db import models

from messaging.models import Channel, CommunicationLog

# A code's CommunicationLog says metadata["kind"] == "otp" (otp.lifecycle writes it): messaging's
# receipts find otp's resend handler (messaging.resend_handlers) by it.
OTP_KIND = "otp"


class OneTimeCode(models.Model):
    """A code asked for by (tenant, recipient, purpose), delivered by a worker, used once.

    The worker generates the code and stores code_hash; until then the row cannot verify.
    """

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
