"""Accepting a message: its rows in one transaction, its delivery published after the commit.

A publish that fails after the commit leaves the message queued; the recovery sweep
(notifications.recovery) publishes it again, so a 202 stays a promise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from accounts.models import ApiKey, ApiKeyKind
from messaging.models import CommunicationLog, MessageStatus
from notifications.models import MESSAGE_KIND, Message
from otpsite.logs import log_event

logger = logging.getLogger("notifications.accept")


@dataclass(frozen=True)
class MessageRequest:
    channel: str
    to: str
    locale: str = ""
    reference: str = ""
    template: str = ""
    template_version: int | None = None
    template_uid: Any = None
    personalisation: dict[str, Any] = field(default_factory=dict)
    content: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    segments: int | None = None
    encoding: str = ""


def accept_message(request: MessageRequest, *, api_key: ApiKey, publish: Callable[[int], None]) -> Message:
    """Write the log row and the message, and publish its delivery once they are committed."""
    tenant = api_key.tenant
    with transaction.atomic():
        log = CommunicationLog.objects.create(
            recipient=request.to,
            channel=request.channel,
            purpose=MESSAGE_KIND,
            status=MessageStatus.QUEUED,
            metadata={
                "tenant_id": tenant.slug,
                "kind": MESSAGE_KIND,
                **({"test": True} if is_test_key(api_key) else {}),
            },
            tenant_id=tenant.slug,
        )
        message = Message.objects.create(
            log=log,
            tenant=tenant,
            api_key=api_key,
            channel=request.channel,
            recipient=request.to,
            reference=request.reference,
            template=request.template,
            template_version=request.template_version,
            template_uid=request.template_uid,
            locale=request.locale,
            personalisation=request.personalisation,
            content=request.content,
            metadata=request.metadata,
            segments=request.segments,
            encoding=request.encoding,
            test=is_test_key(api_key),
        )
    transaction.on_commit(lambda: _publish(message, publish))
    return message


def is_test_key(api_key: ApiKey) -> bool:
    return api_key.kind == ApiKeyKind.TEST


def _publish(message: Message, publish: Callable[[int], None]) -> None:
    try:
        publish(message.pk)
    except Exception as err:  # the broker is down: the sweep publishes it again
        log_event(logger, "message.publish_failed", level=logging.WARNING, message_id=str(message.log.message_id),
                  error=type(err).__name__)  # fmt: skip
