"""What a shop's Content Security Policy must allow for DOKU, and whether it does (check W006).

The pay button POSTs to the shop, which redirects to DOKU's page: Chromium applies
``form-action`` to that redirect, so DOKU's page host must be in it. The pop-up also loads
DOKU's Checkout JS (``script-src``) and shows DOKU's page in a frame (``frame-src``).
Policies are read from Django 6's ``SECURE_CSP`` and from django-csp's
``CONTENT_SECURITY_POLICY["DIRECTIVES"]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django_doku_checkout.conf import CHECKOUT_JS_HOSTS, DokuCheckoutSettings

#: Which directive a browser falls back to when one is not set (``form-action`` has none).
FALLBACKS: dict[str, tuple[str, ...]] = {
    "form-action": (),
    "script-src": ("default-src",),
    "frame-src": ("child-src", "default-src"),
}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as CSP sources name origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def doku_origin(config: DokuCheckoutSettings) -> str:
    """The origin of DOKU's payment page and Checkout JS: DOKU's host, or the simulator's."""
    return CHECKOUT_JS_HOSTS.get(config.environment) or origin(config.api_base_url)


def required_sources(config: DokuCheckoutSettings, *, popup: bool) -> dict[str, str]:
    """Each directive the shop's policy must let DOKU through, with the source to add."""
    directives = ("form-action", "script-src", "frame-src") if popup else ("form-action",)
    return dict.fromkeys(directives, doku_origin(config))


def _allows(sources: Iterable[str], origin: str, site_origin: str | None) -> bool:
    scheme, host = origin.split("://", 1)
    for source in sources:
        source = str(source).strip().rstrip("/")
        if source in ("*", f"{scheme}:", origin, host):
            return True
        if source == "'self'" and site_origin == origin:
            return True
        if source.startswith(f"{scheme}://*.") and host.endswith(source[len(scheme) + 4 :]):
            return True
    return False


def blocked_directives(
    policy: Mapping[str, Any], needed: Mapping[str, str], *, site_origin: str | None
) -> list[tuple[str, str]]:
    """The ``(directive, source)`` pairs of ``needed`` that ``policy`` (directive -> sources) blocks."""
    blocked = []
    for directive, origin in needed.items():
        for name in (directive, *FALLBACKS[directive]):
            if name in policy:
                sources = policy[name]
                sources = [sources] if isinstance(sources, str) else list(sources or ())
                if not _allows(sources, origin, site_origin):
                    blocked.append((directive, origin))
                break
    return blocked


def shop_policies(settings: Any) -> list[tuple[str, Mapping[str, Any]]]:
    """The enforced policies in the shop's settings, each with the setting's name to write a fix in."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    secure_csp = getattr(settings, "SECURE_CSP", None)
    if isinstance(secure_csp, Mapping) and secure_csp:
        found.append(("SECURE_CSP", secure_csp))
    django_csp = getattr(settings, "CONTENT_SECURITY_POLICY", None)
    if isinstance(django_csp, Mapping) and isinstance(django_csp.get("DIRECTIVES"), Mapping):
        found.append(('CONTENT_SECURITY_POLICY["DIRECTIVES"]', django_csp["DIRECTIVES"]))
    return found
