"""System checks for ``DOKU_CHECKOUT``, the URLconf, the CSP and the database.

The ids are listed in the README and never reused; :data:`RETIRED_CHECK_IDS` keeps those
no check raises any more. The settings' own checks are built in :mod:`django_doku_checkout.conf`
from each key's declaration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.checks import Warning as CheckWarning
from django.urls import NoReverseMatch, reverse

from django_doku_checkout.capacity import find_pool_problems, find_timeout_problems, gunicorn_server
from django_doku_checkout.conf import find_deployment_problems, find_problems, get_config
from django_doku_checkout.csp import blocked_directives, origin, required_sources, shop_policies
from django_doku_checkout.exceptions import DokuConfigurationError
from django_doku_checkout.order_urls import order_url_resolver

#: Ids no check raises any more: listed so that none is ever given to another problem.
RETIRED_CHECK_IDS = ("django_doku_checkout.E038", "django_doku_checkout.E039", "django_doku_checkout.W011")


def check_settings(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return find_problems(getattr(settings, "DOKU_CHECKOUT", None), debug=settings.DEBUG)


def check_deployment(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return find_deployment_problems(getattr(settings, "DOKU_CHECKOUT", None))


#: Pasted into a SQLite database's settings, this makes writers queue instead of failing.
SQLITE_OPTIONS_FIX = '"OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20}'


def find_sqlite_problems(databases: Mapping[str, Mapping[str, Any]]) -> list[CheckMessage]:
    """Warn about each SQLite database whose concurrent writers fail with "database is locked".

    With Django's default ``BEGIN DEFERRED``, a transaction that reads and then writes
    (as settling an order does) fails at once when another request is writing: SQLite
    cannot make it wait without risking a deadlock. ``IMMEDIATE`` (``EXCLUSIVE`` also does)
    takes the write lock when the transaction begins, where waiting is safe, and
    ``timeout`` says how long to wait.
    """
    messages: list[CheckMessage] = []
    for alias, database in databases.items():
        if database.get("ENGINE") != "django.db.backends.sqlite3":
            continue
        options = database.get("OPTIONS") or {}
        mode = options.get("transaction_mode")
        missing = []
        if not isinstance(mode, str) or mode.upper() not in {"IMMEDIATE", "EXCLUSIVE"}:
            missing.append("OPTIONS['transaction_mode'] = 'IMMEDIATE'" + (f" (it is {mode!r})" if mode else ""))
        if "timeout" not in options:
            missing.append("OPTIONS['timeout']")
        if missing:
            messages.append(
                CheckWarning(
                    f"DATABASES[{alias!r}] uses SQLite without {' and without '.join(missing)}: requests that "
                    "write at the same moment (DOKU's notification and the shopper's return page) can fail "
                    "with 'database is locked' (HTTP 500).",
                    hint=f"Add {SQLITE_OPTIONS_FIX} to DATABASES[{alias!r}] (Django 5.1+). "
                    '"init_command": "PRAGMA journal_mode=WAL;" in OPTIONS also lets readers '
                    "run while a request writes.",
                    id="django_doku_checkout.W005",
                )
            )
    return messages


def check_sqlite(
    app_configs: Sequence[Any] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """W005 for every SQLite database in settings, or for those ``check --database`` names."""
    configured: Mapping[str, Mapping[str, Any]] = settings.DATABASES
    chosen = configured if databases is None else {a: configured[a] for a in databases if a in configured}
    return find_sqlite_problems(chosen)


def find_wiring_problems() -> list[CheckMessage]:
    """The URLconf and apps a shop must wire: mistakes that would otherwise be 500s for shoppers.

    E040: the app's URLs are not included, so the pay button, the return page and DOKU's
    notification URL do not exist. E041: the simulator's URLs are mounted without its app
    in ``INSTALLED_APPS``, so its hosted page has no template.
    """
    messages: list[CheckMessage] = []
    try:
        reverse("doku_checkout:notification")
    except NoReverseMatch:
        messages.append(
            Error(
                "The URLs of django-doku-checkout are not included: the pay button, the return page and "
                "DOKU's notification URL do not exist (NoReverseMatch for 'doku_checkout:notification').",
                hint='Add path("doku/", include("django_doku_checkout.urls")) to your ROOT_URLCONF\'s urlpatterns.',
                id="django_doku_checkout.E040",
            )
        )
    try:
        reverse("doku_simulator:dashboard")
    except NoReverseMatch:
        pass
    else:
        if not apps.is_installed("django_doku_checkout.simulator"):
            messages.append(
                Error(
                    "The DOKU simulator's URLs are mounted but 'django_doku_checkout.simulator' is not in "
                    "INSTALLED_APPS: its hosted payment page has no template (TemplateDoesNotExist).",
                    hint='Add "django_doku_checkout.simulator" to INSTALLED_APPS, or remove its include().',
                    id="django_doku_checkout.E041",
                )
            )
    return messages


def check_wiring(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return find_wiring_problems()


def find_csp_problems() -> list[CheckMessage]:
    """W006: the shop's Content Security Policy would block DOKU's page (or, in pop-up mode, its script, frame or stylesheet).

    The hint is the line to add. Pages that pass ``mode="popup"`` themselves while
    ``PAY_BUTTON_MODE`` is ``"redirect"`` need the pop-up's sources too: see docs/shopper.md.
    """
    try:
        config = get_config()
    except DokuConfigurationError:
        return []  # the settings checks report it
    needed = required_sources(config, popup=config.pay_button_mode == "popup")
    site = origin(config.site_url) if config.site_url else None
    messages: list[CheckMessage] = []
    for setting, policy in shop_policies(settings):
        for blocked in blocked_directives(policy, needed, site_origin=site):
            sources = " and ".join(repr(source) for source in blocked.sources)
            messages.append(
                CheckWarning(
                    f"{setting}[{blocked.directive!r}] does not allow {', '.join(blocked.sources)}: browsers will "
                    f"block {_BLOCKED[blocked.needed]}",
                    hint=f"Add {sources} to {setting}[{blocked.directive!r}].",
                    id="django_doku_checkout.W006",
                )
            )
    return messages


#: What a browser blocks when the policy leaves DOKU out of each directive the app needs.
_BLOCKED = {
    "form-action": "the pay button's redirect to DOKU's payment page.",
    "script-src": "DOKU's pop-up (its Checkout JS).",
    "frame-src": "DOKU's pop-up (its payment page in a frame).",
    "style-src": "the styles of DOKU's pop-up (its stylesheet): the modal shows unstyled over the shop.",
}


def check_csp(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return find_csp_problems()


def find_order_url_problems() -> list[CheckMessage]:
    """W007: ``ORDER_URL`` names neither an importable callable nor a URL that takes ``public_id``."""
    try:
        value = get_config().order_url
    except DokuConfigurationError:
        return []
    if not value or order_url_resolver(value) is not None:
        return []
    try:
        reverse(value, kwargs={"public_id": "00000000-0000-0000-0000-000000000000"})
    except NoReverseMatch:
        return [
            CheckWarning(
                f"DOKU_CHECKOUT['ORDER_URL'] is {value!r}, which is neither an importable callable nor a URL "
                "name that reverses with public_id: the shopper's pages show no 'Back to your order' link.",
                hint="Name a URL pattern with a <uuid:public_id> argument, such as 'shop:order', or the dotted "
                "path of a callable that takes the order and returns its URL.",
                id="django_doku_checkout.W007",
            )
        ]
    return []


def check_order_url(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    return find_order_url_problems()


def check_capacity(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """W009 and W010: gunicorn's numbers (``GUNICORN_CMD_ARGS``) against ``DEADLINE`` and the pools."""
    server = gunicorn_server(os.environ)
    try:
        deadline = get_config().deadline
    except DokuConfigurationError:
        deadline = 0  # the settings checks report it
    return [*find_timeout_problems(server, deadline), *find_pool_problems(server, settings.DATABASES)]
