"""Whether the service may call a callback URL: https to a public address, unless a setting allows more.

Checked when the endpoint is registered and again before every attempt (the name may resolve
elsewhere by then). Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UrlRefused(ValueError):
    """The URL may not be called; the message says why, fit for a 400 field error."""


def check_url(url: str) -> None:
    """Raise UrlRefused unless `url` is https (or http when allowed) to a host with only public addresses."""
    allow_private = settings.CALLBACKS_ALLOW_PRIVATE_URLS
    parts = urlsplit(url)
    if parts.scheme != "https" and not (allow_private and parts.scheme == "http"):
        raise UrlRefused("Use an https:// URL.")
    if not parts.hostname:
        raise UrlRefused("The URL has no host.")
    if parts.username or parts.password:
        raise UrlRefused("Leave credentials out of the URL; verify the signature instead.")
    if allow_private:
        return
    for address in _addresses(parts.hostname, parts.port or 443):
        if not address.is_global or address.is_multicast:
            raise UrlRefused("The URL's host is a private, loopback or reserved address.")


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as err:
        raise UrlRefused("The URL's host does not resolve.") from err
    found = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        found.append(address)
    return found
