"""Which locale a request asks for: its own `locale`, else the first Accept-Language tag, else the default."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation.trans_real import parse_accept_lang_header

LOCALE_PATTERN = r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$"


def locale_context(request: HttpRequest) -> dict[str, Any]:
    """A serializer context entry carrying the request's Accept-Language."""
    return {"accept_language": request.META.get("HTTP_ACCEPT_LANGUAGE", "")}


def requested_locale(given: str | None, accept_language: str = "") -> str:
    """Lower case with '-' ("pt_BR" -> "pt-br"); templates fall back from there (pt-br, pt, en)."""
    if given:
        return given.replace("_", "-").lower()
    for tag, _quality in parse_accept_lang_header(accept_language[:255]):
        if tag != "*":
            return tag.lower()
    return str(settings.MESSAGES_DEFAULT_LOCALE)
