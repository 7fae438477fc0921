"""Filling ((placeholders)) with data: substitution only, HTML-escaped in HTML parts."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils import formats
from django.utils.html import escape

PLACEHOLDER = re.compile(r"\(\(\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\)\)")
HTML_PARTS = frozenset({"html"})


class MissingPlaceholders(Exception):
    """The template uses placeholders the values do not give; `names` lists them in order."""

    def __init__(self, names: list[str]) -> None:
        super().__init__(f"missing placeholders: {', '.join(names)}")
        self.names = names


def placeholders(parts: Iterable[str]) -> list[str]:
    """Every placeholder name the texts use, first use first, each once."""
    seen: dict[str, None] = {}
    for text in parts:
        for match in PLACEHOLDER.finditer(text):
            seen.setdefault(match.group(1), None)
    return list(seen)


def as_text(value: Any) -> str:
    """A value as the active locale writes it (12.5 is "12,5" under fr and de)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    return str(formats.localize(value, use_l10n=True))


def render(parts: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, str]:
    """Each part with its placeholders filled. Raises MissingPlaceholders naming every missing one."""
    missing = [name for name in placeholders(parts.values()) if name not in values]
    if missing:
        raise MissingPlaceholders(missing)

    def fill(part: str, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            filled = as_text(values[match.group(1)])
            return escape(filled) if part in HTML_PARTS else filled

        return PLACEHOLDER.sub(value, text)

    return {part: fill(part, text) for part, text in parts.items() if text}


def locale_candidates(locale: str, default: str = "en") -> list[str]:
    """The locales to look for, most specific first: "pt-br" -> ["pt-br", "pt", "en"]."""
    locale = locale.replace("_", "-").lower()
    found = [locale, locale.split("-", 1)[0], default]
    return list(dict.fromkeys(code for code in found if code))
