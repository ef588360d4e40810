"""The ``DOKU_CHECKOUT`` setting, read lazily into a frozen dataclass.

Every problem with the raw dict is described once, in :func:`find_problems`; the
system checks report them and :func:`get_config` refuses to run with an error.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from django_doku_checkout.exceptions import DokuConfigurationError
from django_doku_checkout.payloads import HEX_COLOUR

ENVIRONMENTS = ("sandbox", "production", "simulator")

API_BASE_URLS = {
    "sandbox": "https://api-sandbox.doku.com",
    "production": "https://api.doku.com",
    # The standalone simulator (`python -m django_doku_checkout.simulator`) listens here.
    "simulator": "http://127.0.0.1:8765",
}

DEFAULTS: dict[str, Any] = {
    "CLIENT_ID": None,
    "SECRET_KEY": None,
    "ENVIRONMENT": "sandbox",
    "API_BASE_URL": None,
    "SITE_URL": None,
    "TIMEOUT": (5.0, 15.0),
    "MAX_RETRIES": 2,
    "RETRY_BACKOFF": 0.5,
    "DEADLINE": 25,
    "PAYMENT_DUE_DATE": 60,
    "PAYMENT_METHOD_TYPES": (),
    "AUTO_REDIRECT": True,
    "NOTIFICATION_PATH": None,
    # DOKU retries at +30 min, +6 h and +12 h, perhaps with the original headers, and staff
    # can resend from the back office days later. Safe: see docs/going-live.md.
    "NOTIFICATION_MAX_AGE": 7 * 24 * 3600,
    "NOTIFICATION_MAX_BYTES": 65536,
    "PREVIOUS_SECRET_KEYS": (),
    "CONFIRM_WITH_STATUS_API": False,
    "STATUS_CHECK_INTERVAL": 10,
    "STATUS_CHECK_DEADLINE": 3,
    "CARD_PAGE_THEME": {},
    "DOKU_WALLET_NOTIFY_URL": None,
    "DELIVERY_MAX_ATTEMPTS": 10,
    "KEEP_REJECTED_NOTIFICATIONS_DAYS": 30,
    "KEEP_PERSONAL_DATA_DAYS": 1095,
    "DELIVERY_BACKOFF": 60,
    # How long a process attempting a delivery holds it before another run may take it over.
    "DELIVERY_LEASE": 300,
    "CANCEL_AT_DOKU": False,
    "SUB_ACCOUNT_ID": None,
    "CHECKOUT_BODY_HOOK": None,
    "PAY_BUTTON_MODE": "redirect",
    "ORDER_URL": None,
    "FAILED_LINK_RETRY_AFTER": 10,
    "WAITING_PAGE_REFRESHES": 30,
    "REJECTED_NOTIFICATIONS_PER_HOUR": 100,
}

#: How ``{% doku_pay_button %}`` opens DOKU's page: a redirect, or DOKU's pop-up over the shop.
PAY_BUTTON_MODES = ("redirect", "popup")

#: DOKU's Checkout JS, which opens the pay page as a pop-up (``loadJokulCheckout``), per environment.
#: The simulator serves a stand-in at the same path under its own ``API_BASE_URL``.
CHECKOUT_JS_PATH = "/jokul-checkout-js/v1/jokul-checkout-1.0.0.js"
CHECKOUT_JS_HOSTS = {"sandbox": "https://sandbox.doku.com", "production": "https://jokul.doku.com"}

#: The colours a card payment page can be given (DOKU's ``override_configuration.themes``).
CARD_PAGE_THEME_KEYS = ("background_color", "font_color", "button_background_color", "button_font_color")

# The client id DOKU prints in its documentation samples, and words that mark a test account.
_SANDBOX_LOOKING_CLIENT_ID = re.compile(r"MCH-0001-10791114622547|sandbox|test|demo|dummy", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with ``DOKU_CHECKOUT``, as the system checks report it."""

    id: str
    level: Literal["error", "warning"]
    message: str
    hint: str


@dataclass(frozen=True)
class DokuCheckoutSettings:
    """The validated ``DOKU_CHECKOUT`` setting. The secret key is kept out of ``repr()``."""

    client_id: str
    secret_key: str = field(repr=False)
    environment: str = "sandbox"
    api_base_url: str = API_BASE_URLS["sandbox"]
    site_url: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_retries: int = 2
    retry_backoff: float = 0.5
    deadline: float = 25.0
    payment_due_date: int = 60
    payment_method_types: tuple[str, ...] = ()
    auto_redirect: bool = True
    notification_path: str | None = None
    notification_max_age: int = 7 * 24 * 3600
    notification_max_bytes: int = 65536
    previous_secret_keys: tuple[str, ...] = field(default=(), repr=False)
    confirm_with_status_api: bool = False
    status_check_interval: int = 10
    status_check_deadline: float = 3.0
    card_page_theme: Mapping[str, str] = field(default_factory=dict)
    doku_wallet_notify_url: str | None = None
    delivery_max_attempts: int = 10
    keep_rejected_notifications_days: int = 30
    keep_personal_data_days: int = 1095
    delivery_backoff: int = 60
    delivery_lease: int = 300
    cancel_at_doku: bool = False
    sub_account_id: str | None = None
    checkout_body_hook: str | None = None
    pay_button_mode: str = "redirect"
    order_url: str | None = None
    failed_link_retry_after: int = 10
    waiting_page_refreshes: int = 30
    rejected_notifications_per_hour: int = 100

    @property
    def checkout_js_url(self) -> str:
        """Where DOKU's Checkout JS is loaded from: DOKU's host, or the simulator's stand-in."""
        host = CHECKOUT_JS_HOSTS.get(self.environment) if self.environment != "simulator" else None
        return (host or self.api_base_url) + CHECKOUT_JS_PATH

    @property
    def verification_keys(self) -> tuple[str, ...]:
        """The secret key, then any previous keys still accepted while rotating."""
        return (self.secret_key, *self.previous_secret_keys)


def _setting_name(key: str) -> str:
    return f"DOKU_CHECKOUT[{key!r}]"


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    parts = urlsplit(value)
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and not parts.query and not parts.fragment


def _timeouts(value: object) -> tuple[float, float] | None:
    """Return (connect, read) seconds from a number or a pair, or None when invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return (float(value), float(value)) if value > 0 else None
    if isinstance(value, list | tuple) and len(value) == 2:
        pair = [_timeouts(v) for v in value]
        if pair[0] and pair[1]:
            return (pair[0][0], pair[1][0])
    return None


def _is_callable_path(value: object) -> bool:
    if not isinstance(value, str) or "." not in value:
        return False
    try:
        return callable(import_string(value))
    except ImportError:
        return False


def _is_int(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def find_problems(raw: object, *, debug: bool) -> list[Problem]:
    """Describe every problem with a raw ``DOKU_CHECKOUT`` value (runtime checks, not deploy checks)."""
    if raw is None:
        return [
            Problem(
                "django_doku_checkout.E001",
                "error",
                "The DOKU_CHECKOUT setting is missing.",
                "Add DOKU_CHECKOUT = {'CLIENT_ID': ..., 'SECRET_KEY': ..., 'ENVIRONMENT': 'sandbox'} to your settings.",
            )
        ]
    if not isinstance(raw, Mapping):
        return [
            Problem(
                "django_doku_checkout.E001",
                "error",
                f"The DOKU_CHECKOUT setting must be a dict, not {type(raw).__name__}.",
                "Use DOKU_CHECKOUT = {'CLIENT_ID': ..., 'SECRET_KEY': ..., 'ENVIRONMENT': 'sandbox'}.",
            )
        ]
    problems: list[Problem] = []

    def error(check_id: str, key: str, expected: str, found: object, hint: str) -> None:
        shown = "<hidden>" if key == "SECRET_KEY" else repr(found)
        problems.append(
            Problem(
                f"django_doku_checkout.{check_id}",
                "error",
                f"{_setting_name(key)} must be {expected}, not {shown}.",
                hint,
            )
        )

    client_id = raw.get("CLIENT_ID")
    if not isinstance(client_id, str) or not client_id.strip():
        error(
            "E002",
            "CLIENT_ID",
            "a non-empty string",
            client_id,
            "Copy the Client ID from DOKU's back office (Integration > API Keys).",
        )
    secret_key = raw.get("SECRET_KEY")
    if not isinstance(secret_key, str) or not secret_key.strip():
        problems.append(
            Problem(
                "django_doku_checkout.E003",
                "error",
                f"{_setting_name('SECRET_KEY')} must be a non-empty string.",
                "Copy the Secret Key from DOKU's back office and load it from the environment, never from source code.",
            )
        )
    environment = raw.get("ENVIRONMENT", DEFAULTS["ENVIRONMENT"])
    if environment not in ENVIRONMENTS:
        error(
            "E004",
            "ENVIRONMENT",
            "'sandbox', 'production' or 'simulator'",
            environment,
            "Use 'sandbox' while testing with DOKU, 'simulator' for the built-in fake DOKU.",
        )
    api_base_url = raw.get("API_BASE_URL")
    if api_base_url is not None and not _is_http_url(api_base_url):
        error(
            "E005",
            "API_BASE_URL",
            "an http(s) URL with a host and no query string",
            api_base_url,
            "Leave it out to use DOKU's own host for ENVIRONMENT, e.g. 'https://api-sandbox.doku.com'.",
        )
    timeout = raw.get("TIMEOUT", DEFAULTS["TIMEOUT"])
    if _timeouts(timeout) is None:
        error(
            "E006",
            "TIMEOUT",
            "a positive number of seconds or a (connect, read) pair of them",
            timeout,
            "For example 'TIMEOUT': (5, 30).",
        )
    unknown = sorted(str(key) for key in raw if key not in DEFAULTS)
    for key in unknown:
        close = difflib.get_close_matches(str(key).upper(), DEFAULTS, n=1, cutoff=0.7) or [
            known for known in DEFAULTS if known.replace("_", "") in str(key).upper().replace("_", "")
        ]
        problems.append(
            Problem(
                "django_doku_checkout.E007",
                "error",
                f"{_setting_name(key)} is not a setting of django-doku-checkout.",
                f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(DEFAULTS)}.",
            )
        )
    wallet_url = raw.get("DOKU_WALLET_NOTIFY_URL")
    if wallet_url is not None and not _is_http_url(wallet_url):
        error(
            "E029",
            "DOKU_WALLET_NOTIFY_URL",
            "an http(s) URL with a host and no query string",
            wallet_url,
            "Leave it out to use this app's notification URL, e.g. 'https://shop.example.com/doku/notification/'.",
        )
    sub_account = raw.get("SUB_ACCOUNT_ID")
    if sub_account is not None and (not isinstance(sub_account, str) or not 0 < len(sub_account.strip()) <= 64):
        error(
            "E031",
            "SUB_ACCOUNT_ID",
            "a DOKU sub account id (a string of up to 64 characters) or None",
            sub_account,
            "Copy it from DOKU's back office (Sub Account); leave it out to settle to the main account.",
        )
    hook = raw.get("CHECKOUT_BODY_HOOK")
    if hook is not None and not _is_callable_path(hook):
        error(
            "E032",
            "CHECKOUT_BODY_HOOK",
            "the dotted path of a callable that can be imported",
            hook,
            "For example 'shop.doku.adjust_body', a function (order, body) -> body.",
        )
    site_url = raw.get("SITE_URL")
    if site_url is not None and not _is_http_url(site_url):
        error(
            "E008",
            "SITE_URL",
            "an http(s) URL with a host and no query string",
            site_url,
            "The public address of your shop, e.g. 'https://shop.example.com'. DOKU sends shoppers back there.",
        )
    due = raw.get("PAYMENT_DUE_DATE", DEFAULTS["PAYMENT_DUE_DATE"])
    if not _is_int(due, 1, 999_999):
        error(
            "E009",
            "PAYMENT_DUE_DATE",
            "a whole number of minutes from 1 to 999999 (DOKU allows 6 digits)",
            due,
            "DOKU's default is 60.",
        )
    retries = raw.get("MAX_RETRIES", DEFAULTS["MAX_RETRIES"])
    if not _is_int(retries, 0, 10):
        error("E010", "MAX_RETRIES", "a whole number from 0 to 10", retries, "The default is 2.")
    backoff = raw.get("RETRY_BACKOFF", DEFAULTS["RETRY_BACKOFF"])
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or not 0 <= backoff <= 60:
        error("E011", "RETRY_BACKOFF", "a number of seconds from 0 to 60", backoff, "The default is 0.5.")
    methods = raw.get("PAYMENT_METHOD_TYPES", DEFAULTS["PAYMENT_METHOD_TYPES"])
    if not isinstance(methods, list | tuple) or not all(isinstance(m, str) and m for m in methods):
        error(
            "E012",
            "PAYMENT_METHOD_TYPES",
            "a list of DOKU channel codes such as 'VIRTUAL_ACCOUNT_BCA'",
            methods,
            "Leave it empty to offer every channel active on your DOKU account.",
        )
    for check_id, key in (
        ("E013", "AUTO_REDIRECT"),
        ("E018", "CONFIRM_WITH_STATUS_API"),
        ("E030", "CANCEL_AT_DOKU"),
    ):
        flag = raw.get(key, DEFAULTS[key])
        if not isinstance(flag, bool):
            error(check_id, key, "True or False", flag, f"The default is {DEFAULTS[key]}.")
    notification_path = raw.get("NOTIFICATION_PATH")
    if notification_path is not None and (
        not isinstance(notification_path, str) or not notification_path.startswith("/") or "?" in notification_path
    ):
        error(
            "E014",
            "NOTIFICATION_PATH",
            "a URL path starting with '/' and without a query string",
            notification_path,
            "Set it only when a proxy rewrites paths: the path of the notification URL as DOKU calls it.",
        )
    for check_id, key, low, high in (
        ("E015", "NOTIFICATION_MAX_AGE", 60, 30 * 24 * 3600),
        ("E016", "NOTIFICATION_MAX_BYTES", 1024, 10 * 1024 * 1024),
        ("E019", "STATUS_CHECK_INTERVAL", 0, 3600),
    ):
        number = raw.get(key, DEFAULTS[key])
        if not _is_int(number, low, high):
            error(check_id, key, f"a whole number from {low} to {high}", number, f"The default is {DEFAULTS[key]}.")
    previous = raw.get("PREVIOUS_SECRET_KEYS", DEFAULTS["PREVIOUS_SECRET_KEYS"])
    if not isinstance(previous, list | tuple) or not all(isinstance(key, str) and key for key in previous):
        problems.append(
            Problem(
                "django_doku_checkout.E017",
                "error",
                f"{_setting_name('PREVIOUS_SECRET_KEYS')} must be a list of non-empty strings.",
                "List the old secret keys still accepted on notifications while you rotate the key.",
            )
        )
    theme = raw.get("CARD_PAGE_THEME", DEFAULTS["CARD_PAGE_THEME"])
    if not isinstance(theme, Mapping) or not all(
        key in CARD_PAGE_THEME_KEYS and isinstance(colour, str) and HEX_COLOUR.fullmatch(colour)
        for key, colour in theme.items()
    ):
        error(
            "E020",
            "CARD_PAGE_THEME",
            f"a dict of hex colours with the keys {', '.join(CARD_PAGE_THEME_KEYS)}",
            theme,
            "For example {'background_color': '#FFFFFF', 'button_background_color': '#E1251B'}.",
        )

    deadline = raw.get("DEADLINE", DEFAULTS["DEADLINE"])
    if isinstance(deadline, bool) or not isinstance(deadline, int | float) or not 1 <= deadline <= 29:
        error(
            "E021",
            "DEADLINE",
            "a number of seconds from 1 to 29",
            deadline,
            "The longest one call to DOKU may take, retries included: under gunicorn's 30 s worker timeout. "
            f"The default is {DEFAULTS['DEADLINE']}.",
        )
    elif _timeouts(timeout) is not None and sum(_timeouts(timeout) or ()) > deadline:
        connect, read = _timeouts(timeout) or (0, 0)
        problems.append(
            Problem(
                "django_doku_checkout.W004",
                "warning",
                f"{_setting_name('TIMEOUT')} allows one attempt {connect:g} + {read:g} seconds, more than "
                f"{_setting_name('DEADLINE')} ({deadline:g}): an attempt is cut short and "
                f"{_setting_name('MAX_RETRIES')} never applies.",
                "Keep connect + read timeouts under DEADLINE, e.g. 'TIMEOUT': (5, 15) with 'DEADLINE': 25.",
            )
        )
    check_deadline = raw.get("STATUS_CHECK_DEADLINE", DEFAULTS["STATUS_CHECK_DEADLINE"])
    if (
        isinstance(check_deadline, bool)
        or not isinstance(check_deadline, int | float)
        or not 0.5 <= check_deadline <= 10
    ):
        error(
            "E024",
            "STATUS_CHECK_DEADLINE",
            "a number of seconds from 0.5 to 10",
            check_deadline,
            "How long the return page waits for DOKU's Status API. The default is 3.",
        )
    for check_id, key, low, high in (
        ("E022", "DELIVERY_MAX_ATTEMPTS", 1, 100),
        ("E023", "DELIVERY_BACKOFF", 1, 86400),
        # Shorter than a minute, a receiver still running (a slow CRM) is taken over and run twice at once.
        ("E042", "DELIVERY_LEASE", 60, 86400),
        ("E025", "KEEP_REJECTED_NOTIFICATIONS_DAYS", 1, 3650),
        ("E026", "KEEP_PERSONAL_DATA_DAYS", 30, 36500),
        ("E035", "FAILED_LINK_RETRY_AFTER", 0, 600),
        ("E036", "WAITING_PAGE_REFRESHES", 0, 1000),
        ("E037", "REJECTED_NOTIFICATIONS_PER_HOUR", 0, 100_000),
    ):
        number = raw.get(key, DEFAULTS[key])
        if not _is_int(number, low, high):
            error(check_id, key, f"a whole number from {low} to {high}", number, f"The default is {DEFAULTS[key]}.")

    mode = raw.get("PAY_BUTTON_MODE", DEFAULTS["PAY_BUTTON_MODE"])
    if mode not in PAY_BUTTON_MODES:
        error(
            "E033",
            "PAY_BUTTON_MODE",
            "'redirect' or 'popup'",
            mode,
            "'redirect' sends the shopper to DOKU's page; 'popup' opens it over the shop with DOKU's Checkout JS.",
        )
    order_url = raw.get("ORDER_URL", DEFAULTS["ORDER_URL"])
    if order_url is not None and not (isinstance(order_url, str) and order_url.strip() and " " not in order_url):
        error(
            "E034",
            "ORDER_URL",
            "None, a URL name or the dotted path of a callable taking the order",
            order_url,
            "For example 'shop:order' (reversed with public_id=order.public_id) or 'shop.urls.order_url'.",
        )

    if environment == "production":
        if isinstance(client_id, str) and _SANDBOX_LOOKING_CLIENT_ID.search(client_id):
            problems.append(
                Problem(
                    "django_doku_checkout.W001",
                    "warning",
                    f"{_setting_name('ENVIRONMENT')} is 'production' but {_setting_name('CLIENT_ID')} "
                    f"({client_id!r}) looks like a sandbox or sample client id.",
                    "Use the production Client ID and Secret Key from DOKU's production back office.",
                )
            )
        if debug:
            problems.append(
                Problem(
                    "django_doku_checkout.W002",
                    "warning",
                    f"{_setting_name('ENVIRONMENT')} is 'production' while DEBUG is True.",
                    "Real payments should only run with DEBUG = False: error pages would show order data.",
                )
            )
    return problems


#: Secret keys printed in this project's code and documents: whoever reads them can sign
#: notifications for a shop that uses one.
WELL_KNOWN_SECRET_KEYS = frozenset({"simulator-secret", "simulator-secret-for-tests", "SK-test-secret-123"})


def find_deployment_problems(raw: object) -> list[Problem]:
    """Problems that only matter on a deployed site (``manage.py check --deploy``).

    Whatever ``DEBUG`` says: ``--deploy`` means the settings are about to go live, and
    ``startproject``'s ``DEBUG = True`` is often still on when it is first run.
    """
    if not isinstance(raw, Mapping):
        return []
    environment = raw.get("ENVIRONMENT", DEFAULTS["ENVIRONMENT"])
    problems = []
    if environment == "simulator":
        problems.append(
            Problem(
                "django_doku_checkout.E027",
                "error",
                f"{_setting_name('ENVIRONMENT')} is 'simulator' on a deployed site: a simulator takes any "
                "payment, so every order could be paid for free.",
                "Set ENVIRONMENT to 'production' (or 'sandbox' while testing) with DOKU's credentials.",
            )
        )
    elif environment == "sandbox":
        problems.append(
            Problem(
                "django_doku_checkout.W003",
                "warning",
                f"{_setting_name('ENVIRONMENT')} is 'sandbox' on a deployed site: no real payment will be taken.",
                "Set ENVIRONMENT to 'production' with production credentials when the shop goes live.",
            )
        )
    if raw.get("SECRET_KEY") in WELL_KNOWN_SECRET_KEYS:
        problems.append(
            Problem(
                "django_doku_checkout.E028",
                "error",
                f"{_setting_name('SECRET_KEY')} is a key published in django-doku-checkout's own code: anyone can "
                "sign notifications with it.",
                "Use the Secret Key from DOKU's back office, loaded from the environment.",
            )
        )
    return problems


#: The settings read last: the ``DOKU_CHECKOUT`` object, ``DEBUG``, and what they gave.
_last_read: tuple[object, bool, DokuCheckoutSettings] | None = None


def get_config() -> DokuCheckoutSettings:
    """``settings.DOKU_CHECKOUT``, validated; read again whenever the setting is replaced.

    A link reads the settings a dozen times, so the result is kept while ``DOKU_CHECKOUT``
    is the same object and ``DEBUG`` the same value: assigning a new dict (as
    ``override_settings`` and pytest-django's ``settings`` do) applies at once.
    Raises :class:`DokuConfigurationError` naming the first broken key.
    """
    global _last_read  # noqa: PLW0603 - one cache for the process; a tuple is replaced whole
    raw = getattr(settings, "DOKU_CHECKOUT", None)
    debug = bool(settings.DEBUG)
    last = _last_read
    if last is not None and last[0] is raw and last[1] == debug:
        return last[2]
    config = _read(raw, debug)
    _last_read = (raw, debug, config)
    return config


def _read(raw: object, debug: bool) -> DokuCheckoutSettings:
    errors = [p for p in find_problems(raw, debug=debug) if p.level == "error"]
    if errors:
        raise DokuConfigurationError(f"{errors[0].message} {errors[0].hint}")
    assert isinstance(raw, Mapping)  # noqa: S101  (find_problems reports anything else)
    values = {**DEFAULTS, **raw}
    environment = values["ENVIRONMENT"]
    connect_timeout, read_timeout = _timeouts(values["TIMEOUT"]) or (5.0, 15.0)
    return DokuCheckoutSettings(
        client_id=values["CLIENT_ID"],
        secret_key=values["SECRET_KEY"],
        environment=environment,
        api_base_url=(values["API_BASE_URL"] or API_BASE_URLS[environment]).rstrip("/"),
        site_url=values["SITE_URL"].rstrip("/") if values["SITE_URL"] else None,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_retries=values["MAX_RETRIES"],
        retry_backoff=float(values["RETRY_BACKOFF"]),
        payment_due_date=values["PAYMENT_DUE_DATE"],
        payment_method_types=tuple(values["PAYMENT_METHOD_TYPES"]),
        auto_redirect=values["AUTO_REDIRECT"],
        notification_path=values["NOTIFICATION_PATH"],
        notification_max_age=values["NOTIFICATION_MAX_AGE"],
        notification_max_bytes=values["NOTIFICATION_MAX_BYTES"],
        previous_secret_keys=tuple(values["PREVIOUS_SECRET_KEYS"]),
        confirm_with_status_api=values["CONFIRM_WITH_STATUS_API"],
        status_check_interval=values["STATUS_CHECK_INTERVAL"],
        status_check_deadline=float(values["STATUS_CHECK_DEADLINE"]),
        card_page_theme=dict(values["CARD_PAGE_THEME"]),
        doku_wallet_notify_url=values["DOKU_WALLET_NOTIFY_URL"],
        deadline=float(values["DEADLINE"]),
        delivery_max_attempts=values["DELIVERY_MAX_ATTEMPTS"],
        keep_rejected_notifications_days=values["KEEP_REJECTED_NOTIFICATIONS_DAYS"],
        keep_personal_data_days=values["KEEP_PERSONAL_DATA_DAYS"],
        delivery_backoff=values["DELIVERY_BACKOFF"],
        delivery_lease=values["DELIVERY_LEASE"],
        cancel_at_doku=values["CANCEL_AT_DOKU"],
        sub_account_id=values["SUB_ACCOUNT_ID"],
        checkout_body_hook=values["CHECKOUT_BODY_HOOK"],
        pay_button_mode=values["PAY_BUTTON_MODE"],
        order_url=values["ORDER_URL"],
        failed_link_retry_after=values["FAILED_LINK_RETRY_AFTER"],
        waiting_page_refreshes=values["WAITING_PAGE_REFRESHES"],
        rejected_notifications_per_hour=values["REJECTED_NOTIFICATIONS_PER_HOUR"],
    )
