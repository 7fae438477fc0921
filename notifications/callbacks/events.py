"""Turning a tenant message's announced event into callback deliveries."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import Tenant
from notifications import presenters
from notifications.callbacks.dispatch import enqueue_event
from notifications.models import Message

# The status each event reports, whatever the message has moved on to since.
EVENT_STATUS = {"message.sent": "sent", "message.delivered": "delivered", "message.failed": "failed"}
EVENT_TYPES = (*EVENT_STATUS, "otp.verified")


def on_message_event(sender: Any, *, message: Message, event: str, **kwargs: Any) -> None:
    from notifications.tasks import publish_callback

    fresh = Message.objects.select_related("log", "resend_log", "tenant").get(pk=message.pk)
    data = {**presenters.summary(fresh), "status": EVENT_STATUS.get(event, fresh.status)}
    data.pop("links", None)
    enqueue_event(fresh.tenant, event, data, publish=publish_callback)


def on_code_verified(sender: Any, *, tenant_id: str, channel: str, recipient: str, purpose: str, **kwargs: Any) -> None:
    """otp.verified to the tenant's endpoints that want it (the default tenant has none unless an operator adds one)."""
    from notifications.tasks import publish_callback

    tenant = Tenant.objects.filter(slug=tenant_id, callback_endpoints__enabled=True).distinct().first()
    if tenant is None:
        return
    data = {"channel": channel, "recipient": recipient, "purpose": purpose, "verified_at": timezone.now().isoformat()}
    enqueue_event(tenant, "otp.verified", data, publish=publish_callback)
