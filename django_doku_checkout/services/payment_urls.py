"""The URL policy of payment links: where DOKU sends the shopper back to, and which payment URLs may be shown."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest

from django_doku_checkout.conf import get_config
from django_doku_checkout.exceptions import DokuConfigurationError


def absolute_url(path: str, request: HttpRequest | None) -> str:
    """``path`` on the shop's site, for DOKU to send the shopper back to: ``SITE_URL`` first, else the request's host."""
    # SITE_URL first: with a permissive ALLOWED_HOSTS, the request's Host header would
    # choose where DOKU sends the shopper after paying.
    site_url = get_config().site_url
    if site_url:
        return site_url + path
    if request is not None:
        return request.build_absolute_uri(path)
    raise DokuConfigurationError(
        "DOKU_CHECKOUT['SITE_URL'] must be set to build callback URLs outside a request, "
        "e.g. 'https://shop.example.com'."
    )


def payment_url_allowed(url: str) -> bool:
    """Whether ``url`` may be shown to or followed by anyone: DOKU's own https hosts or the configured API origin.

    Parsed strictly, so no browser reads it differently: no user info (``https://evil@pay.doku.com``
    means nothing good), no backslash or control character, no other port.
    """
    if not isinstance(url, str) or any(char in url for char in "\\\r\n\t ") or "@" in url.split("?")[0]:
        return False
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    host = parts.hostname or ""
    if parts.scheme == "https" and (host == "doku.com" or host.endswith(".doku.com")) and port in (None, 443):
        return True
    api = urlsplit(get_config().api_base_url)
    return bool(host) and (parts.scheme, parts.netloc) == (api.scheme, api.netloc)
