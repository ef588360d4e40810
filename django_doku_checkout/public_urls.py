"""Whether DOKU's servers (and shoppers elsewhere) can reach a URL: https, on a public host.

One judgement for the going-live doctor's notification and return URLs and for
``check --deploy``'s ``SITE_URL`` (E050): pure, read from the URL alone (no DNS, no request).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

#: Names only a private network resolves (RFC 6761 and 6762, and the usual in-house ones).
PRIVATE_SUFFIXES = (
    ".local",
    ".localhost",
    ".localdomain",
    ".test",
    ".example",
    ".invalid",
    ".internal",
    ".lan",
    ".home.arpa",
)


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` names, read as resolvers read it: ``127.1``, ``10.1`` and ``0x7f.1``
    are IPv4 addresses to them (inet_aton's short and hex forms), though not to :mod:`ipaddress`."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:  # not an address in any form: a name
        return None


def not_public(url: str) -> str | None:
    """Why DOKU (or a shopper elsewhere) cannot reach ``url``'s host, or None when it looks public."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    address = _address(host)
    if address is not None:
        kinds = (
            ("a loopback address", address.is_loopback),
            ("a link-local address", address.is_link_local),
            ("a private address", address.is_private),
            ("not a public address", not address.is_global),
        )
        return next((f"{host} is {kind}" for kind, found in kinds if found), None)
    if host == "localhost" or host.endswith(PRIVATE_SUFFIXES):
        return f"{host} is a name only this machine or its network knows"
    if "." not in host:
        return f"{host} is a name without a domain, which only its network resolves"
    return None


def not_public_https(url: str) -> list[str]:
    """Why ``url`` is not a public https URL, each reason a clause ("it is http, not https"); empty when it is."""
    reasons = []
    scheme = urlsplit(url).scheme
    if scheme != "https":
        reasons.append(f"it is {scheme}, not https")
    if (reason := not_public(url)) is not None:
        reasons.append(reason)
    return reasons
