"""A tenant message as the providers get it, rendered in the message's own locale."""

from __future__ import annotations

from django.conf import settings
from django.utils import translation

from messaging.models import Channel
from messaging.providers.base import Message as Outgoing
from messaging.providers.base import message_from_parts
from messaging.segments import count_segments
from notifications.models import Message


def render_for_delivery(message: Message) -> Outgoing:
    """The provider's message for `message`; an SMS's segments are stored as it is priced.

    Rendering runs under translation.override(message.locale), never the worker's default.
    """
    with translation.override(message.locale or settings.MESSAGES_DEFAULT_LOCALE):
        parts = content_of(message)
    tags = {"tenant": message.tenant.slug, "kind": "message"}
    if message.channel == Channel.SMS:
        segments = count_segments(parts["body"])
        if (message.segments, message.encoding) != (segments.count, segments.encoding):
            Message.objects.filter(pk=message.pk).update(segments=segments.count, encoding=segments.encoding)
    return message_from_parts(channel=message.channel, to=message.recipient, parts=parts, tags=tags)


def content_of(message: Message) -> dict[str, str]:
    """Inline content as given, or the pinned template version rendered with the personalisation."""
    if not message.template:
        return dict(message.content)
    from notifications.templates import render_pinned

    return render_pinned(message)
