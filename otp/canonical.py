"""The canonical form of a recipient, used only as the key of limits and lockouts.

Variants of one mailbox must not buy fresh allowances: ``Alice+1@Example.com``,
the same address in fullwidth letters and ``alice@exämple.com`` / ``alice@xn--exmple-cua.com``
each share one key with their plain form, and so do Gmail's dotted spellings and googlemail.com
(``J.Ane@googlemail.com`` is ``jane@gmail.com``). Messages still go to what the user typed.
"""

from __future__ import annotations

import unicodedata

# Gmail ignores dots in the mailbox name, and googlemail.com is the same mailbox as gmail.com.
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def canonical_recipient(value: str) -> str:
    """Email: NFKC, lower case, ``+tag`` dropped, domain in IDNA (punycode), Gmail's dots dropped
    and googlemail.com as gmail.com. Phone: unchanged E.164."""
    text = unicodedata.normalize("NFKC", value).strip().lower()
    if "@" not in text:
        return text
    local, _, domain = text.rpartition("@")
    local = local.split("+", 1)[0] or local
    domain = ascii_domain(domain)
    if domain in _GMAIL_DOMAINS:
        local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}@{domain}"


def ascii_domain(domain: str) -> str:
    """The domain in IDNA form (``exämple.com`` -> ``xn--exmple-cua.com``); unchanged if it cannot be."""
    domain = unicodedata.normalize("NFKC", domain).strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return domain
