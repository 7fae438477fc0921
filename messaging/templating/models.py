"""Templates: one row per version. Editing a template adds a version; a message pins the one it used."""

from __future__ import annotations

import uuid

from django.db import models

from messaging.models import Channel

# Names the service itself renders (the one-time code's message).
OTP_TEMPLATE = "otp"


class MessageTemplate(models.Model):
    """One version of one template. `tenant` "" is a built-in a tenant may override by the same name."""

    uid = models.UUIDField(default=uuid.uuid4, editable=False, db_index=True)
    # The tenant's slug ("" for the service's own built-ins). A slug, not a key: messaging knows no tenants.
    tenant = models.CharField(max_length=64, blank=True)
    name = models.SlugField(max_length=100)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    locale = models.CharField(max_length=16, default="en", help_text="e.g. en, fr, pt-br")
    version = models.PositiveIntegerField(default=1, editable=False)
    subject = models.CharField(max_length=998, blank=True, help_text="Email; ((placeholders)) allowed.")
    text = models.TextField(blank=True, help_text="Email plain text; ((placeholders)) allowed.")
    html = models.TextField(blank=True, help_text="Email HTML; values are HTML-escaped.")
    body = models.TextField(blank=True, help_text="SMS; ((placeholders)) allowed.")
    # Example values for the admin's preview (and the API's preview default).
    preview_values = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "message_templates"
        ordering = ["tenant", "name", "channel", "locale", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "channel", "locale", "version"], name="one_version_once")
        ]

    def __str__(self) -> str:
        return f"{self.tenant or 'built-in'}/{self.name} {self.channel} {self.locale} v{self.version}"

    def parts(self) -> dict[str, str]:
        if self.channel == Channel.SMS:
            return {"body": self.body}
        return {"subject": self.subject, "text": self.text, "html": self.html}
