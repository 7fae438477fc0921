"""Tenant templates (none can be made yet)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError

from accounts.models import Tenant
from notifications.models import Message


def checked_template(
    tenant: Tenant, channel: str, name: str, locale: str, personalisation: dict[str, Any]
) -> dict[str, Any]:
    raise ValidationError({"template": [f"No {channel} template named {name!r}."]})


def render_pinned(message: Message) -> dict[str, str]:
    raise LookupError(message.template)
