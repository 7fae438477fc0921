"""Messages a tenant's backend asked for through the API, on top of messaging's log rows."""

from __future__ import annotations

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
