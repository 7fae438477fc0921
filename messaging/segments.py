"""How many SMS segments a text takes: GSM-7 when every character has a GSM 03.38 septet, else UCS-2.

A single GSM-7 message carries 160 septets (characters of the extension table take two), a
concatenated one 153 per segment (the rest is the user data header). UCS-2 carries 70 UTF-16 code
units alone, 67 per segment when concatenated; a character outside the BMP takes two. Segments are
packed the way handsets and carriers pack them: an escape pair or a surrogate pair is never split.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Written as ESC + one septet: two septets each.
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7 = "GSM-7"
UCS2 = "UCS-2"
# (single-segment capacity, per-segment capacity when concatenated), in septets or UTF-16 units.
CAPACITY = {GSM7: (160, 153), UCS2: (70, 67)}


@dataclass(frozen=True)
class Segments:
    encoding: str
    count: int
    # Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes.
    units: int


def encoding_of(text: str) -> str:
    return GSM7 if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else UCS2


def _unit_sizes(text: str, encoding: str) -> list[int]:
    if encoding == GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count_segments(text: str) -> Segments:
    """The encoding, segment count and size of `text` as an SMS (an empty text is one segment)."""
    encoding = encoding_of(text)
    sizes = _unit_sizes(text, encoding)
    total = sum(sizes)
    single, per_part = CAPACITY[encoding]
    if total <= single:
        return Segments(encoding=encoding, count=1, units=total)
    count, used = 1, 0
    for size in sizes:
        if used + size > per_part:
            count, used = count + 1, 0
        used += size
    return Segments(encoding=encoding, count=count, units=total)


def billable_units(message: object) -> int:
    """What a provider charges for `message` in per-message prices: SMS segments, one per email."""
    body = getattr(message, "body", None)
    return count_segments(body).count if isinstance(body, str) else 1
