"""What happened to every message, and to every provider call made for it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

# The budget's models live beside their rules' home; importing them here registers them with the app.
from messaging.budget_models import AtCap, TenantBudget, TenantSpend  # noqa: F401


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class MessageStatus(models.TextChoices):
    # Written before any provider is called; a worker has yet to claim it.
    QUEUED = "queued", "Queued"
    # Claimed by one worker, which is walking the provider chain.
    SENDING = "sending", "Sending"
    # A provider accepted it: provider_used, provider_message_id, cost and sent_at are set.
    SENT = "sent", "Sent"
    # A signed receipt (webhook or delivery log) says it reached the recipient: delivered_at is set.
    # Final: no later receipt moves it back.
    DELIVERED = "delivered", "Delivered"
    # A receipt reports a hard bounce: the address or number does not exist or refuses mail.
    BOUNCED = "bounced", "Bounced"
    # Given up: a recipient fault, retries spent, the code expired before any provider took it,
    # or a receipt says the provider accepted it and then could not deliver it.
    FAILED = "failed", "Failed"


class AttemptOutcome(models.TextChoices):
    # The provider accepted the message.
    SENT = "sent", "Sent"
    # Timeout, connection error, 5xx, 429, bad credentials: the chain goes on to the next provider.
    PROVIDER_FAULT = "provider_fault", "Provider fault"
    # Invalid address or number, opted out, hard bounce: the chain stops; no breaker failure.
    RECIPIENT_FAULT = "recipient_fault", "Recipient fault"
    # Nobody's fault: the provider asks to be tried again later (SMTP greylisting, 450/451 at RCPT).
    # No breaker failure; the message waits for the retry, or goes on to the next provider if the
    # wait would outlast it.
    RETRY_LATER = "retry_later", "Retry later"
    # The provider has no credentials here; it was not called.
    SKIPPED_NOT_CONFIGURED = "skipped_not_configured", "Skipped: not configured"
    # Its circuit breaker refused the call; it was not called.
    SKIPPED_BREAKER_OPEN = "skipped_breaker_open", "Skipped: breaker open"
    # Its daily or monthly quota is spent; it was not called.
    SKIPPED_QUOTA = "skipped_quota", "Skipped: quota spent"
    # The tenant's monthly spending cap has no room for its price; it was not called, no breaker
    # failure (messaging/budgets.py).
    SKIPPED_BUDGET = "skipped_budget", "Skipped: tenant budget spent"


# The rules on a log row's claim, each written once (see messaging/conditions.py): querysets use
# them through CommunicationLog.objects, the one-statement claim (otp/claim.py) as SQL.


def lease_start(now: datetime, lease_seconds: float) -> datetime:
    """A claim made before this has outlived its lease: only a dead worker holds one that long."""
    return now - timedelta(seconds=lease_seconds)


def is_abandoned(lease_start: Any) -> Q:
    """Sending under a claim made before `lease_start`: its worker died."""
    return Q(status=MessageStatus.SENDING, claimed_at__lt=lease_start)


def is_taken_over(owner: Any, claimed_at: Any) -> Q:
    """Sending under the very claim `owner` made at `claimed_at`, which a taker has seen to be dead
    (otpsite/liveness.py): the takers' UPDATEs all name that claim, so exactly one matches it. A
    claim with no owner is never taken over this way, only by its lease."""
    return Q(status=MessageStatus.SENDING, claimed_by=owner, claimed_at=claimed_at) & ~Q(claimed_by="")


def is_claimable(lease_start: Any) -> Q:
    """A worker may claim it: queued, or abandoned."""
    return Q(status=MessageStatus.QUEUED) | is_abandoned(lease_start)


def is_lost(now: datetime) -> Q:
    """Its delivery task may be gone, so the recovery sweeps publish it again: queued for
    OTP_RECOVERY_GRACE_SECONDS since its delivery was last published or due (since it was
    written, if never), or abandoned past OTP_CLAIM_LEASE_SECONDS."""
    grace = now - timedelta(seconds=settings.OTP_RECOVERY_GRACE_SECONDS)
    waited = Q(claimed_at__lt=grace) | Q(claimed_at__isnull=True, created_at__lt=grace)
    return (Q(status=MessageStatus.QUEUED) & waited) | is_abandoned(lease_start(now, settings.OTP_CLAIM_LEASE_SECONDS))


class CommunicationLogQuerySet(models.QuerySet["CommunicationLog"]):
    def claimable(self, *, now: datetime, lease_seconds: float) -> CommunicationLogQuerySet:
        return self.filter(is_claimable(lease_start(now, lease_seconds)))

    def lost(self, *, now: datetime) -> CommunicationLogQuerySet:
        return self.filter(is_lost(now))

    def taken_over(self, *, owner: str, claimed_at: datetime) -> CommunicationLogQuerySet:
        return self.filter(is_taken_over(owner, claimed_at))


class CommunicationLog(models.Model):
    """One message to one recipient, from the moment it is accepted to its last known state."""

    objects = CommunicationLogQuerySet.as_manager()

    message_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.CharField(max_length=320)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    purpose = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices, default=MessageStatus.QUEUED)
    provider_used = models.CharField(max_length=32, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    error_message = models.TextField(blank=True)
    # user_id and tenant_id of whoever asked for it; never any message content.
    metadata = models.JSONField(default=dict, blank=True)
    # The slug of the tenant it was sent for (metadata["tenant_id"] as a column): the tenant console
    # lists a tenant's rows by it. A slug, not a key: messaging knows no tenants. "" for none.
    tenant_id = models.CharField(max_length=64, blank=True, default="", db_default="")
    created_at = models.DateTimeField(auto_now_add=True)
    # sending: when a worker claimed it; a claim older than OTP_CLAIM_LEASE_SECONDS may be taken over.
    # queued: when its delivery was last published or is next due (otp/recovery.py); null = at created_at.
    claimed_at = models.DateTimeField(null=True, blank=True)
    # sending: the process that claimed it (host:pid:start:space:uuid, otpsite/liveness.py), or "" if
    # it was not announced; once that process is seen dead its claim may be taken over at once.
    claimed_by = models.CharField(max_length=200, blank=True, default="", db_default="")
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "message"
        verbose_name_plural = "messages"
        db_table = "communication_logs"  # the design's name, for dashboards and SQL written against it
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["provider_used", "sent_at"]),
            models.Index(fields=["provider_message_id"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["recipient"]),
            models.Index(fields=["tenant_id", "-created_at"], name="log_tenant_newest"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.message_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One decision about one provider for one message: a call, or a reason it was skipped."""

    log = models.ForeignKey(CommunicationLog, on_delete=models.CASCADE, related_name="attempts")
    provider = models.CharField(max_length=32)
    outcome = models.CharField(max_length=32, choices=AttemptOutcome.choices)
    error = models.TextField(blank=True)
    # The provider's own error code (HTTP status, AWS error code, Twilio code), when it gave one.
    error_code = models.CharField(max_length=64, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # Why this call was made when it was not the first walk of the chain (a receipt-driven resend).
    reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # GET /health/messaging shows anyone a provider's latest fault code: one index entry,
            # not a scan of every attempt (messaging.health.public_error).
            models.Index(
                models.F("provider"),
                models.F("id").desc(),
                name="attempt_latest_fault_code",
                condition=models.Q(outcome="provider_fault") & ~models.Q(error_code=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider}: {self.outcome}"


class ReceiptEvent(models.TextChoices):
    """What a provider's receipt says happened to a message it had accepted."""

    # It reached the handset or the recipient's mail server.
    DELIVERED = "delivered", "Delivered"
    # Hard bounce: the address or number does not exist or refuses mail for good.
    BOUNCED = "bounced", "Bounced"
    # The provider gave up on it (carrier filtering, unknown error, dropped, rejected).
    FAILED = "failed", "Failed"
    # Still trying (a soft bounce, a carrier queue): the log's status does not change.
    DEFERRED = "deferred", "Deferred"


class Blame(models.TextChoices):
    """Whose fault a failure receipt is; only the provider's counts against its breaker."""

    NONE = "", "Not a failure"
    # The recipient's address or number: no breaker failure, no resend.
    RECIPIENT = "recipient", "Recipient"
    # The provider or its carriers: a breaker failure, and a resend through the next provider.
    PROVIDER = "provider", "Provider"
    # A code no table lists: a resend, but no breaker failure.
    UNKNOWN = "unknown", "Unknown"


class DeliveryReceipt(models.Model):
    """One receipt a provider sent about one message, as it arrived (duplicates are dropped)."""

    log = models.ForeignKey(CommunicationLog, on_delete=models.CASCADE, related_name="receipts")
    provider = models.CharField(max_length=32)
    # The provider's id of this receipt (or of status + message when it has none): dedupes redeliveries.
    event_key = models.CharField(max_length=255, unique=True)
    event = models.CharField(max_length=16, choices=ReceiptEvent.choices)
    blame = models.CharField(max_length=16, choices=Blame.choices, blank=True)
    # The provider's own words and code (e.g. Twilio 30008 "Unknown error"), never message content.
    reason = models.CharField(max_length=500, blank=True)
    code = models.CharField(max_length=64, blank=True)
    # When the provider says it happened, and whether it moved the log's status.
    occurred_at = models.DateTimeField(null=True, blank=True)
    changed_status = models.BooleanField(default=False)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]

    def __str__(self) -> str:
        return f"{self.provider}: {self.event}"


# A tenant's own chains and provider credentials (messaging.tenancy) live in this app's tables.
from messaging.tenancy.models import ProviderCredential, TenantChain  # noqa: E402, F401
