"""The shop as the doctor describes it: the notification URL DOKU calls, and which simulator the shop runs.

A mounted simulator (its URLs included in the shop's URLconf, ``API_BASE_URL`` pointing at
them) knows the merchants of ``DOKU_SIMULATOR`` (or the shop's own keys) and calls the
shop's ``SITE_URL``. A standalone one (``python -m django_doku_checkout.simulator``) knows
only the keys and the notification URL of its command line.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import NoReverseMatch, reverse

from django_doku_checkout.client import CHECKOUT_PATH
from django_doku_checkout.conf import DokuCheckoutSettings
from django_doku_checkout.csp import origin
from django_doku_checkout.services.payment_urls import absolute_url

#: How the standalone simulator is started (its ``--help`` lists the flags).
STANDALONE = "python -m django_doku_checkout.simulator"
#: The stand-in for the shop's secret key in the command shown: the doctor never prints a key.
SECRET_KEY_PLACEHOLDER = "<SECRET_KEY>"  # noqa: S105 - a placeholder, not a key


def notification_url(config: DokuCheckoutSettings) -> str | None:
    """The notification URL to enter in DOKU's back office: ``SITE_URL`` and the app's URL, or ``NOTIFICATION_PATH``.

    None without ``SITE_URL``. Raises :class:`~django.urls.NoReverseMatch` when the app's URLs are not mounted.
    """
    path = reverse("doku_checkout:notification")
    if not config.site_url:
        return None
    if config.notification_path:
        # A proxy rewrites paths: DOKU calls (and signs) the path the setting names.
        return origin(config.site_url) + config.notification_path
    return absolute_url(path, None)


def is_mounted(config: DokuCheckoutSettings) -> bool:
    """Whether ``API_BASE_URL`` points at the simulator's URLs in this shop's URLconf."""
    try:
        mounted_at = reverse("doku_simulator:checkout_payment")
    except NoReverseMatch:
        return False
    return urlsplit(config.api_base_url).path.rstrip("/") + CHECKOUT_PATH == mounted_at


def start_command(config: DokuCheckoutSettings) -> str:
    """The standalone simulator's whole command for this shop: its port, Client-Id, key and notification URL."""
    parts = urlsplit(config.api_base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        notify = notification_url(config) or "<SITE_URL>/doku/notification/"
    except NoReverseMatch:
        notify = "<SITE_URL>/doku/notification/ (once the app's URLs are mounted)"
    return (
        f"{STANDALONE} --port {port} --client-id {config.client_id} --secret-key {SECRET_KEY_PLACEHOLDER} "
        f"--notification-url {notify} ({SECRET_KEY_PLACEHOLDER}: the shop's SECRET_KEY)"
    )
