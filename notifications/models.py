"""Messages a tenant's backend asked for through the API, on top of messaging's log rows."""

from __future__ import annotations

import uuid

from django.db import models

from accounts.models import ApiKey, Tenant
from messaging.models import Channel, CommunicationLog, MessageStatus

# CommunicationLog.metadata["kind"] of the rows this app owns.
MESSAGE_KIND = "message"


class Message(models.Model):
    """One message to one recipient asked for by a tenant: its content, and the log rows that carry it.

    The content is kept so a worker can render it (and a resend can repeat it); it is the
    tenant's business data, never a one-time code.
    """

    log = models.OneToOneField(CommunicationLog, on_delete=models.PROTECT, related_name="tenant_message")
    # The resend through the next provider after a failure receipt blamed the first one.
    resend_log = models.OneToOneField(
        CommunicationLog, on_delete=models.SET_NULL, null=True, blank=True, related_name="resent_tenant_message"
    )
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="messages")
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, blank=True, related_name="messages")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    recipient = models.CharField(max_length=320)
    reference = models.CharField(max_length=128, blank=True)
    template = models.CharField(max_length=100, blank=True)
    # The template (every version shares this uid) and the version the message was accepted with.
    template_uid = models.UUIDField(null=True, blank=True)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    locale = models.CharField(max_length=16, blank=True)
    personalisation = models.JSONField(default=dict, blank=True)
    # Inline content: subject, html, text (email) or body (SMS). Empty for a templated message.
    content = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The rendered SMS's segment count and encoding, as priced.
    segments = models.PositiveSmallIntegerField(null=True, blank=True)
    encoding = models.CharField(max_length=8, blank=True)
    # Whether a key of kind `test` asked for it: it went to the sink, at no cost.
    test = models.BooleanField(default=False)
    resent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tenant_messages"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"]),
            models.Index(fields=["tenant", "reference"]),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.log.message_id}"

    @property
    def current_log(self) -> CommunicationLog:
        """The log row that says where the message is now: the resend's, once there is one."""
        return self.resend_log or self.log

    @property
    def status(self) -> str:
        return str(self.current_log.status)


__all__ = ["MESSAGE_KIND", "Message", "MessageStatus"]


class CallbackEndpoint(models.Model):
    """A tenant's URL for status callbacks, with the secret its events are signed with (Standard Webhooks)."""

    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="callback_endpoints")
    url = models.URLField(max_length=2000)
    # "whsec_" + base64 of 24 random bytes; the HMAC key is the decoded bytes. Kept to sign each event.
    secret = models.CharField(max_length=64, editable=False)
    # Event types it gets; empty means all.
    events = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "callback_endpoints"

    def __str__(self) -> str:
        return f"{self.tenant.slug}: {self.url}"

    def wants(self, event: str) -> bool:
        return self.enabled and (not self.events or event in self.events)


class CallbackStatus(models.TextChoices):
    # Waiting for its next attempt (next_attempt_at).
    PENDING = "pending", "Pending"
    # The endpoint answered 2xx.
    SUCCEEDED = "succeeded", "Succeeded"
    # No 2xx within CALLBACKS_RETRY_WINDOW_SECONDS: given up, and the endpoint disabled.
    FAILED = "failed", "Failed"


class CallbackDelivery(models.Model):
    """One event for one endpoint: the same webhook-id and body on every attempt, until one gets a 2xx."""

    endpoint = models.ForeignKey(CallbackEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    webhook_id = models.CharField(max_length=64, unique=True)
    event = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=CallbackStatus.choices, default=CallbackStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When a worker took its current attempt; another may take it after CALLBACKS_CLAIM_LEASE_SECONDS.
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "callback_deliveries"
        verbose_name_plural = "callback deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} {self.webhook_id} ({self.status})"


class CallbackAttempt(models.Model):
    """One POST of a delivery: when, what the endpoint answered (or why nothing), how long it took."""

    delivery = models.ForeignKey(CallbackDelivery, on_delete=models.CASCADE, related_name="attempt_rows")
    attempted_at = models.DateTimeField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # The delay chosen before the next attempt (none after a success or the last attempt).
    retry_in_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        db_table = "callback_attempts"
        ordering = ["attempted_at", "id"]
