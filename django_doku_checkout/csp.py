"""What a shop's Content Security Policy must allow for DOKU, and whether it does (check W006).

The pay button POSTs to the shop, which redirects to DOKU's page: Chromium applies
``form-action`` to that redirect, so every host DOKU's pages are on must be in it. The pop-up
also loads DOKU's Checkout JS (``script-src``), which adds DOKU's stylesheet to the shop's
page (``style-src``) and shows DOKU's page in a frame (``frame-src``). :func:`doku_sources`
gives a shop's settings what to add; :func:`required_sources` is what check W006 asks for.
Policies are read from Django 6's ``SECURE_CSP`` and from django-csp's
``CONTENT_SECURITY_POLICY["DIRECTIVES"]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from django_doku_checkout.conf import (
    API_BASE_URLS,
    CHECKOUT_CSS_HOSTS,
    CHECKOUT_CSS_PATH,
    PAYMENT_PAGE_HOSTS,
    DokuCheckoutSettings,
)
from django_doku_checkout.settings_table import checkout_js_url

#: For each directive the app needs, the directives a browser reads for it, most specific
#: first: the first one the policy sets decides (CSP3's fallbacks; ``form-action`` has none).
DIRECTIVE_CHAINS: dict[str, tuple[str, ...]] = {
    "form-action": ("form-action",),
    "script-src": ("script-src-elem", "script-src", "default-src"),
    "frame-src": ("frame-src", "child-src", "default-src"),
    "style-src": ("style-src-elem", "style-src", "default-src"),
}

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as CSP sources name origins."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def doku_urls(environment: str, api_base_url: str, *, popup: bool) -> dict[str, tuple[str, ...]]:
    """For each directive, every URL of DOKU's the shop's pages lead to or load in ``environment``.

    Payment pages are origins (a redirect's path is not compared, and the page's path differs
    per link); the Checkout JS and its stylesheet are full URLs. The simulator serves all of
    them under its ``api_base_url``.
    """
    simulator = environment not in PAYMENT_PAGE_HOSTS
    pages: tuple[str, ...] = (origin(api_base_url),) if simulator else PAYMENT_PAGE_HOSTS[environment]
    needed: dict[str, tuple[str, ...]] = {"form-action": pages}
    if popup:
        needed["script-src"] = (checkout_js_url(environment, api_base_url),)
        needed["frame-src"] = pages
        css_hosts = (api_base_url,) if simulator else CHECKOUT_CSS_HOSTS[environment]
        needed["style-src"] = tuple(host + CHECKOUT_CSS_PATH for host in css_hosts)
    return needed


def required_sources(config: DokuCheckoutSettings, *, popup: bool) -> dict[str, tuple[str, ...]]:
    """Each directive the shop's policy must let DOKU through, with the URLs it must allow."""
    return doku_urls(config.environment, config.api_base_url, popup=popup)


def doku_sources(environment: str, api_base_url: str | None = None, *, popup: bool = True) -> dict[str, list[str]]:
    """The origins to add to each directive of a shop's policy so DOKU's pages work.

    For ``settings.py`` (it needs no configured settings): ``environment`` is
    ``DOKU_CHECKOUT["ENVIRONMENT"]``, ``api_base_url`` the simulator's ``API_BASE_URL``;
    ``popup=False`` when no page uses the pop-up (then only ``form-action``)::

        SECURE_CSP = {"default-src": [CSP.SELF]}
        for directive, sources in doku_sources("production").items():
            SECURE_CSP[directive] = [CSP.SELF, *sources]
    """
    urls = doku_urls(environment, api_base_url or API_BASE_URLS[environment], popup=popup)
    return {directive: list(dict.fromkeys(origin(url) for url in found)) for directive, found in urls.items()}


def _port(value: str | None, scheme: str) -> int | None:
    if value:
        return int(value) if value.isdigit() else None
    return _DEFAULT_PORTS.get(scheme)


def source_allows(source: str, url: str, *, site_origin: str | None) -> bool:
    """Whether one CSP source expression lets ``url`` load (CSP3's source matching).

    Host sources may leave out the scheme (it then matches https, or the site's own scheme),
    use ``*.`` for subdomains and ``:*`` for any port, and carry a path, compared only when
    ``url`` has one. An ``http:`` source also allows ``https:``, as browsers do.
    """
    source = str(source).strip()
    target = urlsplit(url)
    scheme, host = target.scheme.lower(), (target.hostname or "").lower()
    lowered = source.lower()
    if lowered == "'self'":
        return site_origin is not None and origin(site_origin) == origin(url)
    if lowered == "*":
        return scheme in ("http", "https")
    if lowered.endswith(":") and "/" not in lowered:  # a scheme source such as https:
        return lowered[:-1] == scheme or (lowered == "http:" and scheme == "https")
    if lowered.startswith("'"):
        return False  # 'none', nonces, hashes, 'unsafe-inline' and the like name no host
    match = re.fullmatch(
        r"(?:(?P<scheme>[a-z][a-z0-9+.-]*)://)?(?P<host>\*|(?:\*\.)?[^/:]+)(?::(?P<port>\d+|\*))?(?P<path>/.*)?",
        lowered,
    )
    if match is None:
        return False
    wanted = match["scheme"]
    if wanted is None:
        site_scheme = urlsplit(site_origin).scheme if site_origin else None
        if scheme != "https" and scheme != site_scheme:
            return False
    elif not (wanted == scheme or (wanted == "http" and scheme == "https")):
        return False
    pattern = match["host"]
    if pattern == "*" or pattern.startswith("*."):
        if not (pattern == "*" or host.endswith(pattern[1:])):
            return False
    elif pattern != host:
        return False
    if match["port"] != "*":
        port = _port(match["port"], wanted or scheme)
        actual = _port(str(target.port) if target.port else None, scheme)
        upgraded = port == 80 and actual == 443 and scheme == "https"
        if port != actual and not upgraded:
            return False
    path = match["path"]
    if path and target.path not in ("", "/"):
        return target.path.startswith(path) if path.endswith("/") else target.path == path
    return True


class Blocked(NamedTuple):
    """What a policy blocks: the directive DOKU needs, the one to fix, and the origins to add to it."""

    needed: str
    directive: str
    sources: tuple[str, ...]


def blocked_directives(
    policy: Mapping[str, Any], needed: Mapping[str, tuple[str, ...]], *, site_origin: str | None
) -> list[Blocked]:
    """What ``policy`` (directive -> sources) blocks of ``needed`` (directive -> URLs), a :class:`Blocked` per directive.

    The directive to fix is the most specific one in effect when the policy sets it
    (``script-src-elem`` over ``script-src``), the needed one when only a fallback such as
    ``default-src`` is set.
    """
    blocked = []
    for directive, urls in needed.items():
        chain = DIRECTIVE_CHAINS[directive]
        in_effect = next((name for name in chain if name in policy), None)
        if in_effect is None:
            continue
        sources = policy[in_effect]
        sources = [sources] if isinstance(sources, str) else list(sources or ())
        missing = [
            origin(url)
            for url in urls
            if not any(source_allows(source, url, site_origin=site_origin) for source in sources)
        ]
        if missing:
            more_specific = chain.index(in_effect) < chain.index(directive)
            fix = in_effect if more_specific else directive
            blocked.append(Blocked(directive, fix, tuple(dict.fromkeys(missing))))
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
