"""Names people read (an organisation's): no character that hides or reorders what is shown."""

from __future__ import annotations

import unicodedata

from rest_framework import serializers

INVISIBLE_REFUSED = "Use visible characters only: no control, direction-changing or invisible formatting characters."
# Unicode categories refused: controls, formatting (bidi overrides and isolates such as U+202E,
# zero-width characters), surrogates, private use, unassigned, and line or paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def refuse_invisible_characters(value: str) -> str:
    """The name unchanged, or a ValidationError for its field if it holds a refused character."""
    if any(unicodedata.category(ch) in _REFUSED_CATEGORIES for ch in value):
        raise serializers.ValidationError(INVISIBLE_REFUSED)
    return value
