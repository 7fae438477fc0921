"""Whose address a request comes from, trusting only the configured number of proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's IP address as text, normalised (e.g. ``2001:db8::1``, ``203.0.113.7``).

    With ``TRUSTED_PROXY_COUNT = 0`` it is REMOTE_ADDR: X-Forwarded-For is ignored. With N
    trusted proxies it is the Nth address from the right of X-Forwarded-For, the one the
    outermost trusted proxy saw; entries further left are whatever the client chose to send, so
    a forged header only adds entries that are never read. When the header holds fewer than N
    addresses, or the chosen one is not an IP address, the request did not come through the
    proxies as configured and REMOTE_ADDR (the proxy itself) is used: a shared, stricter limit
    rather than one the client picks.
    """
    remote = _normalise(request.META.get("REMOTE_ADDR", "")) or "0.0.0.0"
    trusted = settings.TRUSTED_PROXY_COUNT
    if trusted <= 0:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [entry for entry in forwarded if entry]
    if len(forwarded) < trusted:
        return remote
    return _normalise(forwarded[-trusted]) or remote


def _normalise(value: str) -> str:
    """The address in canonical form, or "" if it is not one (ports and brackets are dropped)."""
    value = value.strip()
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # "203.0.113.7:443"
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return ""
