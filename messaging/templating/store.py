"""Finding the template a message uses: the tenant's own, else the built-in; its locale, else `en`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import translation

from messaging.templating import cache
from messaging.templating.models import MessageTemplate
from messaging.templating.rendering import locale_candidates, render


def current(*, tenant: str, name: str, channel: str, locale: str) -> MessageTemplate | None:
    """The latest version of the best match: by locale (exact, language, `en`), the tenant's own before the built-in.

    Kept in this process until a template changes (messaging/templating/cache.py); callers only read it.
    """
    return cast(
        "MessageTemplate | None",
        cache.cached(
            ("current", tenant, name, channel, locale),
            lambda: _current(tenant=tenant, name=name, channel=channel, locale=locale),
        ),
    )


def _current(*, tenant: str, name: str, channel: str, locale: str) -> MessageTemplate | None:
    candidates = locale_candidates(locale, settings.MESSAGES_DEFAULT_LOCALE)
    rows = list(
        MessageTemplate.objects.filter(tenant__in=[tenant, ""], name=name, channel=channel, locale__in=candidates)
    )
    rank = {code: i for i, code in enumerate(candidates)}
    rows.sort(key=lambda row: (rank[row.locale], row.tenant != tenant, -row.version))
    return rows[0] if rows else None


def pinned(*, uid: Any, version: int) -> MessageTemplate | None:
    """The version a message was accepted with (every version of one template shares its uid)."""
    return MessageTemplate.objects.filter(uid=uid, version=version).first()


def add_version(template: MessageTemplate) -> MessageTemplate:
    """Save `template`'s content as the next version of its (tenant, name, channel, locale)."""
    with transaction.atomic():
        same = MessageTemplate.objects.select_for_update().filter(
            tenant=template.tenant, name=template.name, channel=template.channel, locale=template.locale
        )
        latest = same.aggregate(latest=Max("version"))["latest"] or 0
        first = same.order_by("version").first()
        template.pk = None
        template._state.adding = True
        template.version = latest + 1
        if first is not None:
            template.uid = first.uid
        template.save(force_insert=True)
    return template


@dataclass(frozen=True)
class Rendered:
    template: MessageTemplate
    parts: dict[str, str]


def render_in_locale(template: MessageTemplate, values: Mapping[str, Any], *, locale: str) -> Rendered:
    """The template's parts filled with `values`, under translation.override(locale)."""
    with translation.override(locale):
        return Rendered(template=template, parts=render(template.parts(), values))
