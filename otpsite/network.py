"""Whose address a request comes from, trusting only the configured number of proxies.

A tenant's backend calling with a valid API key may name its end user's address in the
``X-End-User-IP`` header; :func:`client_identity` turns either into the key that per-client limits
and lockouts count against.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.http import HttpRequest

END_USER_IP_HEADER = "X-End-User-IP"
# IPv6 clients are counted per /64: one subscriber usually holds a whole /64.
_IPV6_PREFIX = 64


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


def client_identity(request: HttpRequest, api_key: Any | None) -> str:
    """Whom per-client limits and lockouts count against.

    Anonymous: the client's address (:func:`ip_bucket` of :func:`client_ip`); X-End-User-IP is
    ignored, so an anonymous caller cannot pick it. A caller with an API key: ``key:<prefix>:<end
    user's address>`` when it sends X-End-User-IP with a valid address, else ``key:<prefix>`` (the
    key's own, larger allowance). A backend is never limited by its own address.
    """
    if api_key is None:
        return ip_bucket(client_ip(request))
    end_user = _normalise(request.META.get("HTTP_X_END_USER_IP", ""))
    if not end_user:
        return f"key:{api_key.prefix}"
    return f"key:{api_key.prefix}:{ip_bucket(end_user)}"


def is_key_identity(identity: str) -> bool:
    """Whether the identity is an API key's own (no end user named): it gets the per-key limits."""
    return identity.startswith("key:") and identity.count(":") == 1


def ip_bucket(client: str) -> str:
    """The address a limit counts: IPv4 as is, IPv6 per /64; anything else (an identity) unchanged."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    if isinstance(address, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{address}/{_IPV6_PREFIX}", strict=False))
    return str(address)


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
