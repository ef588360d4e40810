"""Every key of ``DOKU_CHECKOUT``, declared once: the fields of :class:`DokuCheckoutSettings`.

Each field is a :class:`~django_doku_checkout.setting_rules.Setting`: the key's name,
default, rule, check id and one line of help. :mod:`django_doku_checkout.conf` reads the
setting and checks it from this table, and the settings page's table is generated from it
(docs/hooks.py). A new key is one more field here, with a new, never reused check id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django_doku_checkout import setting_rules as rules
from django_doku_checkout.setting_rules import Setting

ENVIRONMENTS = ("sandbox", "production", "simulator")

API_BASE_URLS = {
    "sandbox": "https://api-sandbox.doku.com",
    "production": "https://api.doku.com",
    # The standalone simulator (`python -m django_doku_checkout.simulator`) listens here.
    "simulator": "http://127.0.0.1:8765",
}

#: How ``{% doku_pay_button %}`` opens DOKU's page: a redirect, or DOKU's pop-up over the shop.
PAY_BUTTON_MODES = ("redirect", "popup")

#: The hosts DOKU's payment pages (``payment.url``) were seen on, per environment: where the
#: pay button redirects to and what the pop-up frames. The sandbox hands out
#: ``staging.doku.com/checkout-link-v2/…`` links; its documentation shows ``sandbox.doku.com``.
#: Sources: docs/going-live.md's open questions; tests/doku_traffic/payment_urls.json.
PAYMENT_PAGE_HOSTS: dict[str, tuple[str, ...]] = {
    "sandbox": ("https://staging.doku.com", "https://sandbox.doku.com"),
    "production": ("https://checkout.doku.com", "https://jokul.doku.com"),
}

#: DOKU's Checkout JS, which opens the pay page as a pop-up (``loadJokulCheckout``), per environment.
#: The simulator serves a stand-in at the same path under its own ``API_BASE_URL``.
CHECKOUT_JS_PATH = "/jokul-checkout-js/v1/jokul-checkout-1.0.0.js"
CHECKOUT_JS_HOSTS = {"sandbox": "https://sandbox.doku.com", "production": "https://jokul.doku.com"}

#: The stylesheet DOKU's Checkout JS adds to the shop's page for its modal, and the hosts it may
#: come from: integrators' copies of the script name ``jokul.doku.com`` whatever the environment,
#: so the sandbox's script may name either host.
CHECKOUT_CSS_PATH = "/jokul-checkout-js/v1/jokul-checkout-1.0.0.css"
CHECKOUT_CSS_HOSTS: dict[str, tuple[str, ...]] = {
    "sandbox": ("https://sandbox.doku.com", "https://jokul.doku.com"),
    "production": ("https://jokul.doku.com",),
}


def checkout_js_url(environment: str, api_base_url: str) -> str:
    """Where DOKU's Checkout JS is loaded from: DOKU's host, or the simulator's stand-in under ``api_base_url``."""
    return (CHECKOUT_JS_HOSTS.get(environment) or api_base_url) + CHECKOUT_JS_PATH


#: The colours a card payment page can be given (DOKU's ``override_configuration.themes``).
CARD_PAGE_THEME_KEYS = ("background_color", "font_color", "button_background_color", "button_font_color")


def _environments_host(values: Mapping[str, Any]) -> str:
    return API_BASE_URLS[values.get("ENVIRONMENT", "sandbox")]


_TIMEOUT = Setting(
    "TIMEOUT",
    (5, 15),
    rules.Timeouts(),
    "E006",
    "connect and read timeouts in seconds, per attempt",
)


@dataclass(frozen=True)
class DokuCheckoutSettings:
    """The validated ``DOKU_CHECKOUT`` setting: one field per key, each declared here once.

    The field's :class:`Setting` is its declaration; secrets are kept out of ``repr()``.
    """

    client_id: str = Setting(
        "CLIENT_ID",
        None,
        rules.Text(),
        "E002",
        "DOKU Client ID",
        hint="Copy the Client ID from DOKU's back office (Integration > API Keys).",
        required=True,
    ).field()
    secret_key: str = Setting(
        "SECRET_KEY",
        None,
        rules.Text(),
        "E003",
        "DOKU Secret Key; never logged or shown",
        hint="Copy the Secret Key from DOKU's back office and load it from the environment, never from source code.",
        required=True,
        secret=True,
    ).field()
    environment: str = Setting(
        "ENVIRONMENT",
        "sandbox",
        rules.choice(*ENVIRONMENTS),
        "E004",
        "which DOKU the app calls: DOKU's sandbox, DOKU's production, or this package's simulator",
        hint="Use 'sandbox' while testing with DOKU, 'simulator' for the built-in fake DOKU.",
    ).field()
    api_base_url: str = Setting(
        "API_BASE_URL",
        None,
        rules.HttpUrl(base=True),
        "E005",
        "overrides DOKU's host (the simulator's address); outside the simulator it must be DOKU's https URL (W008)",
        hint="Leave it out to use DOKU's own host for ENVIRONMENT, e.g. 'https://api-sandbox.doku.com'.",
        fallback=_environments_host,
        shown="per environment",
    ).field()
    site_url: str | None = Setting(
        "SITE_URL",
        None,
        rules.HttpUrl(base=True),
        "E008",
        "public shop address, for callback URLs outside a request",
        hint="The public address of your shop, e.g. 'https://shop.example.com'. DOKU sends shoppers back there.",
    ).field()
    connect_timeout: float = _TIMEOUT.field(part=0)
    read_timeout: float = _TIMEOUT.field(part=1)
    max_retries: int = Setting(
        "MAX_RETRIES", 2, rules.whole_number(0, 10), "E010", "re-sends of a failed call with the same `Request-Id`"
    ).field()
    retry_backoff: float = Setting(
        "RETRY_BACKOFF", 0.5, rules.seconds(0, 60), "E011", "seconds, times the attempt number"
    ).field()
    deadline: float = Setting(
        "DEADLINE",
        25,
        rules.seconds(1, 29),
        "E021",
        "seconds one call to DOKU may take, retries included (under gunicorn's 30 s)",
        hint="The longest one call to DOKU may take, retries included: under gunicorn's 30 s worker timeout.",
    ).field()
    payment_due_date: int = Setting(
        "PAYMENT_DUE_DATE",
        60,
        rules.whole_number(1, 999_999, "a whole number of minutes from 1 to 999999 (DOKU allows 6 digits)"),
        "E009",
        "minutes a payment link stays open",
    ).field()
    payment_method_types: tuple[str, ...] = Setting(
        "PAYMENT_METHOD_TYPES",
        (),
        rules.Strings("a list of DOKU channel codes such as 'VIRTUAL_ACCOUNT_BCA'"),
        "E012",
        "channel codes to offer; empty offers all active ones",
        hint="Leave it empty to offer every channel active on your DOKU account.",
    ).field()
    auto_redirect: bool = Setting(
        "AUTO_REDIRECT", True, rules.Flag(), "E013", "DOKU sends the shopper straight back after paying"
    ).field()
    notification_path: str | None = Setting(
        "NOTIFICATION_PATH",
        None,
        rules.UrlPath(),
        "E014",
        "`Request-Target` to verify when a proxy rewrites paths",
        hint="Set it only when a proxy rewrites paths: the path of the notification URL as DOKU calls it.",
    ).field()
    notification_max_age: int = Setting(
        "NOTIFICATION_MAX_AGE",
        # DOKU retries at +30 min, +6 h and +12 h, perhaps with the original headers, and staff
        # can resend from the back office days later. Safe: see docs/going-live.md.
        7 * 24 * 3600,
        rules.whole_number(60, 30 * 24 * 3600),
        "E015",
        "accepted age of a notification's `Request-Timestamp`: DOKU's retries (+30 min, +6 h, +12 h) "
        "and a resend from the back office days later",
        shown="`604800` (7 days)",
    ).field()
    notification_max_bytes: int = Setting(
        "NOTIFICATION_MAX_BYTES",
        65536,
        rules.whole_number(1024, 10 * 1024 * 1024),
        "E016",
        "larger notification bodies get 413",
    ).field()
    previous_secret_keys: tuple[str, ...] = Setting(
        "PREVIOUS_SECRET_KEYS",
        (),
        rules.Strings("a list of non-empty strings"),
        "E017",
        "old keys still accepted on notifications while rotating",
        hint="List the old secret keys still accepted on notifications while you rotate the key.",
        secret=True,
    ).field()
    confirm_with_status_api: bool = Setting(
        "CONFIRM_WITH_STATUS_API",
        False,
        rules.Flag(),
        "E018",
        "confirm every `SUCCESS` with the Status API before paying",
    ).field()
    status_check_interval: int = Setting(
        "STATUS_CHECK_INTERVAL",
        10,
        rules.whole_number(0, 3600),
        "E019",
        "seconds between Status API checks from the return page (throttled in Django's cache: use a shared "
        "cache, such as Redis or the database cache, when several processes serve the shop)",
    ).field()
    status_check_deadline: float = Setting(
        "STATUS_CHECK_DEADLINE",
        3,
        rules.seconds(0.5, 10),
        "E024",
        "seconds the return page waits for the Status API, one attempt; a slow DOKU never holds a worker longer",
        hint="How long the return page waits for DOKU's Status API.",
    ).field()
    card_page_theme: Mapping[str, str] = Setting(
        "CARD_PAGE_THEME",
        {},
        rules.colours(*CARD_PAGE_THEME_KEYS),
        "E020",
        "colours of the card payment page: `background_color`, `font_color`, `button_background_color`, "
        "`button_font_color` (hex)",
        hint="For example {'background_color': '#FFFFFF', 'button_background_color': '#E1251B'}.",
    ).field()
    doku_wallet_notify_url: str | None = Setting(
        "DOKU_WALLET_NOTIFY_URL",
        None,
        rules.HttpUrl(),
        "E029",
        "where DOKU Wallet reports payments; by default this app's notification URL, sent whenever DOKU Wallet "
        "may be offered (no `PAYMENT_METHOD_TYPES`, or `EMONEY_DOKU`)",
        hint="Leave it out to use this app's notification URL, e.g. 'https://shop.example.com/doku/notification/'.",
    ).field()
    rejected_notifications_per_hour: int = Setting(
        "REJECTED_NOTIFICATIONS_PER_HOUR",
        100,
        rules.whole_number(0, 100_000),
        "E037",
        "requests to the notification URL that do not verify stored (and logged) per hour; more are answered "
        "the same but only counted, logged once (the counter is in Django's cache: a shared cache makes the "
        "bound global across processes); rate-limit the URL at the proxy too",
    ).field()
    keep_rejected_notifications_days: int = Setting(
        "KEEP_REJECTED_NOTIFICATIONS_DAYS",
        30,
        rules.whole_number(1, 3650),
        "E025",
        "`doku_checkout_prune` deletes rejected notifications older than this",
    ).field()
    keep_personal_data_days: int = Setting(
        "KEEP_PERSONAL_DATA_DAYS",
        1095,
        rules.whole_number(30, 36500),
        "E026",
        "`doku_checkout_prune` removes customers' personal data from settled orders older than this",
    ).field()
    delivery_max_attempts: int = Setting(
        "DELIVERY_MAX_ATTEMPTS",
        10,
        rules.whole_number(1, 100),
        "E022",
        "calls of a failing signal receiver before the order is flagged for review",
    ).field()
    delivery_backoff: int = Setting(
        "DELIVERY_BACKOFF",
        60,
        rules.whole_number(1, 86400),
        "E023",
        "seconds before a failed receiver's first retry; doubles each time, at most 6 hours",
    ).field()
    delivery_lease: int = Setting(
        "DELIVERY_LEASE",
        # Shorter than a minute, a receiver still running (a slow CRM) is taken over and run twice at once.
        300,
        rules.whole_number(60, 86400),
        "E042",
        "seconds a process calling a receiver holds that delivery, counted from when it took it; after that "
        "`doku_checkout_deliver` may take it over (the process may have died). Longer than your slowest receiver",
    ).field()
    cancel_at_doku: bool = Setting(
        "CANCEL_AT_DOKU",
        False,
        rules.Flag(),
        "E030",
        "cancelling an order, or changing its amount, also cancels its open links at DOKU "
        "(`POST /checkout/v3/cancellations`; DOKU must enable it for the merchant); a cancellation DOKU did not "
        "answer is sent again with its Request-Id by the next cancellation and by reconciliation",
    ).field()
    sub_account_id: str | None = Setting(
        "SUB_ACCOUNT_ID",
        None,
        rules.Text("a DOKU sub account id (a string of up to 64 characters) or None", max_length=64),
        "E031",
        "DOKU sub account payments settle to (`additional_info.account.id`); an order's `sub_account_id` overrides it",
        hint="Copy it from DOKU's back office (Sub Account); leave it out to settle to the main account.",
    ).field()
    sub_account_split_rule_id: str | None = Setting(
        "SUB_ACCOUNT_SPLIT_RULE_ID",
        None,
        rules.Text("a DOKU split rule id (a string of up to 64 characters) or None", max_length=64),
        "E044",
        "split rule DOKU divides `SUB_ACCOUNT_ID`'s payments by (`additional_info.account.split_rule_id`), "
        "sent only with that sub account; an order with its own `sub_account_id` sends its own `split_rule_id`",
        hint="Copy it from DOKU's back office (Sub Account, Split Rule); it needs SUB_ACCOUNT_ID.",
    ).field()
    checkout_body_hook: str | None = Setting(
        "CHECKOUT_BODY_HOOK",
        None,
        rules.CallablePath(),
        "E032",
        "dotted path of a callable `(order, body) -> body` that gets the built Checkout body and returns the "
        "body to validate and send",
        hint="For example 'shop.doku.adjust_body', a function (order, body) -> body.",
    ).field()
    pay_button_mode: str = Setting(
        "PAY_BUTTON_MODE",
        "redirect",
        rules.choice(*PAY_BUTTON_MODES),
        "E033",
        'how `{% doku_pay_button %}` opens DOKU\'s page: `"redirect"`, or `"popup"` over the shop with '
        "DOKU's Checkout JS (see [Headless and pop-up](shopper.md))",
        hint="'redirect' sends the shopper to DOKU's page; 'popup' opens it over the shop with DOKU's Checkout JS.",
    ).field()
    order_url: str | None = Setting(
        "ORDER_URL",
        None,
        rules.Name("None, a URL name or the dotted path of a callable taking the order"),
        "E034",
        'where "Back to your order" leads on the return, cancel, result and error pages: a URL name reversed '
        "with `public_id`, or the dotted path of a callable taking the order (W007 if it leads nowhere)",
        hint="For example 'shop:order' (reversed with public_id=order.public_id) or 'shop.urls.order_url'.",
    ).field()
    failed_link_retry_after: int = Setting(
        "FAILED_LINK_RETRY_AFTER",
        10,
        rules.whole_number(0, 600),
        "E035",
        "seconds after a failed attempt during which the pay button and `api_pay` answer the same message with "
        "429 and `Retry-After` instead of asking DOKU again (0 turns it off)",
    ).field()
    waiting_page_refreshes: int = Setting(
        "WAITING_PAGE_REFRESHES",
        30,
        rules.whole_number(0, 1000),
        "E036",
        "how many times the waiting page reloads itself (every 10 s) when JavaScript is off",
    ).field()
    health_token: str | None = Setting(
        "HEALTH_TOKEN",
        None,
        rules.OffWhenEmpty("a long random string (at least 32 characters: W012), '' or None"),
        "E046",
        "turns on the health endpoint (`health/`) for monitors that send it as `Authorization: Bearer <token>`; "
        "None or `''` (an empty environment variable) leaves it off (404). A secret: load it from the environment",
        hint="Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
        secret=True,
    ).field()
    health_pending_age: int = Setting(
        "HEALTH_PENDING_AGE",
        6 * 3600,
        rules.whole_number(60, 30 * 24 * 3600),
        "E047",
        "seconds after its creation a pending order makes `doku_checkout_health` warn (longer than a payment "
        "link's life, `PAYMENT_DUE_DATE`: W013)",
        shown="`21600` (6 hours)",
    ).field()
    health_reconcile_max_age: int = Setting(
        "HEALTH_RECONCILE_MAX_AGE",
        3600,
        rules.whole_number(60, 7 * 24 * 3600),
        "E048",
        "seconds since reconciliation's last finished run after which `doku_checkout_health` is critical "
        "(a few times the interval cron runs it at)",
        shown="`3600` (1 hour)",
    ).field()
    health_refund_stuck_age: int = Setting(
        "HEALTH_REFUND_STUCK_AGE",
        3600,
        rules.whole_number(60, 30 * 24 * 3600),
        "E049",
        "seconds a card refund may wait for DOKU's answer (`requested`) before `doku_checkout_health` warns",
        shown="`3600` (1 hour)",
    ).field()

    @property
    def checkout_js_url(self) -> str:
        """Where DOKU's Checkout JS is loaded from: DOKU's host, or the simulator's stand-in."""
        return checkout_js_url(self.environment, self.api_base_url)

    @property
    def verification_keys(self) -> tuple[str, ...]:
        """The secret key, then any previous keys still accepted while rotating."""
        return (self.secret_key, *self.previous_secret_keys)


#: Every key, in the order declared (TIMEOUT, read into two fields, once).
SETTINGS: tuple[Setting, ...] = tuple(
    dict.fromkeys(f.metadata["setting"] for f in dataclasses.fields(DokuCheckoutSettings))
)

#: Each key's default (None for the required ones and those computed from others).
DEFAULTS: dict[str, Any] = {setting.key: setting.default for setting in SETTINGS}


def settings_object(values: Mapping[str, Any]) -> DokuCheckoutSettings:
    """The settings object from each key's value as read (TIMEOUT's pair split into its two fields)."""
    fields = {}
    for spec in dataclasses.fields(DokuCheckoutSettings):
        value = values[spec.metadata["setting"].key]
        part = spec.metadata["part"]
        fields[spec.name] = value if part is None else value[part]
    return DokuCheckoutSettings(**fields)
