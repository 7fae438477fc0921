"""Tenant messages from templates: checked when accepted, rendered by the worker from the pinned version."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError

from accounts.models import Tenant
from messaging.models import Channel
from messaging.segments import count_segments
from messaging.templating import store
from messaging.templating.rendering import MissingPlaceholders
from notifications.models import Message


def checked_template(
    tenant: Tenant, channel: str, name: str, locale: str, personalisation: dict[str, Any]
) -> dict[str, Any]:
    """MessageRequest fields for template `name`, rendered once to check it.

    Raises a ValidationError: no such template (400 on `template`), or a missing placeholder
    (400 on `personalisation`, naming each one).
    """
    template = store.current(tenant=tenant.slug, name=name, channel=channel, locale=locale)
    if template is None:
        raise ValidationError({"template": [f"No {channel} template named {name!r}."]})
    try:
        rendered = store.render_in_locale(template, personalisation, locale=locale)
    except MissingPlaceholders as err:
        names = ", ".join(f"(({name}))" for name in err.names)
        raise ValidationError({"personalisation": [f"Missing placeholder values: {names}."]}) from err
    fields: dict[str, Any] = {
        "template": template.name,
        "template_version": template.version,
        "template_uid": template.uid,
    }
    if channel == Channel.SMS:
        segments = count_segments(rendered.parts.get("body", ""))
        fields.update(segments=segments.count, encoding=segments.encoding)
    return fields


def render_pinned(message: Message) -> dict[str, str]:
    """The parts of the template version `message` was accepted with, filled with its personalisation.

    Runs under the caller's translation.override (the message's locale).
    """
    from messaging.templating.rendering import render

    template = store.pinned(uid=message.template_uid, version=message.template_version or 0)
    if template is None:
        raise LookupError(f"template {message.template} v{message.template_version} is gone")
    return render(template.parts(), message.personalisation)
