"""Which merchants the simulator knows, from ``DOKU_SIMULATOR`` or the shop's own ``DOKU_CHECKOUT``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.urls import NoReverseMatch, reverse

#: Seconds between notification attempts: DOKU's 30 min, 6 h and 12 h, compressed.
DEFAULT_RETRY_SCHEDULE = (2.0, 10.0, 30.0)


@dataclass(frozen=True)
class Merchant:
    client_id: str
    secret_key: str = field(repr=False)
    notification_url: str | None = None
    name: str = "Demo merchant"


def options() -> dict[str, Any]:
    """The ``DOKU_SIMULATOR`` setting, or an empty dict."""
    options = getattr(settings, "DOKU_SIMULATOR", None)
    return dict(options) if isinstance(options, dict) else {}


def _default_notification_url(shop: dict[str, Any]) -> str | None:
    site_url = shop.get("SITE_URL")
    try:
        path = reverse("doku_checkout:notification")
    except NoReverseMatch:
        return None
    return f"{str(site_url).rstrip('/')}{path}" if site_url else None


def merchants() -> dict[str, Merchant]:
    """Merchants by client id. Without ``DOKU_SIMULATOR['MERCHANTS']``, the shop in this project."""
    configured = options().get("MERCHANTS")
    if configured:
        return {
            m["CLIENT_ID"]: Merchant(
                m["CLIENT_ID"], m["SECRET_KEY"], m.get("NOTIFICATION_URL"), m.get("NAME", "Demo merchant")
            )
            for m in configured
        }
    shop = getattr(settings, "DOKU_CHECKOUT", None)
    if isinstance(shop, dict) and shop.get("CLIENT_ID") and shop.get("SECRET_KEY"):
        merchant = Merchant(
            shop["CLIENT_ID"],
            shop["SECRET_KEY"],
            _default_notification_url(shop),
            options().get("MERCHANT_NAME", "Demo merchant"),
        )
        return {merchant.client_id: merchant}
    return {}


def retry_schedule() -> tuple[float, ...]:
    return tuple(float(s) for s in options().get("RETRY_SCHEDULE", DEFAULT_RETRY_SCHEDULE))


def max_clock_skew() -> float:
    """DOKU refuses a Request-Timestamp more than five minutes off."""
    return float(options().get("MAX_CLOCK_SKEW", 300))
