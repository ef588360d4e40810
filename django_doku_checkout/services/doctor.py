"""The going-live doctor (``manage.py doku_checkout_doctor``): the configured account checked against the configured DOKU.

:func:`examine` asks DOKU (:mod:`.doctor_account`: the Client-Id and secret key, the clock),
then reads the shop's own configuration: the notification URL to enter in DOKU's back office
and the return URLs, built from ``SITE_URL`` and the URLconf as the links build them, and
whether DOKU and shoppers can reach them; the Content Security Policy a pay button needs; and,
last, what ``manage.py check --deploy`` reports (its own check), so that the two agree.
Each finding says what to do; nothing secret is in any of them.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.urls import NoReverseMatch, reverse

from django_doku_checkout.checks import check_deployment, find_csp_problems
from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import DokuCheckoutSettings, get_config
from django_doku_checkout.csp import doku_sources, origin
from django_doku_checkout.exceptions import DokuConfigurationError
from django_doku_checkout.public_urls import not_public_https
from django_doku_checkout.services.doctor_account import check_account
from django_doku_checkout.services.doctor_findings import OK, PROBLEM, WARNING, DoctorReport, Finding
from django_doku_checkout.services.doctor_shop import is_mounted, notification_url
from django_doku_checkout.services.payment_urls import absolute_url

#: Tunnels' domains, which DOKU's documentation says its notifications refuse.
TUNNEL_SUFFIXES = (".ngrok.io", ".ngrok.app", ".ngrok-free.app", ".ngrok-free.dev")
#: Where in DOKU's back office the notification URL goes (docs/going-live.md, DOKU's HTTP Notification guide).
BACK_OFFICE_PLACE = (
    "Integration > HTTP Notification (or each channel's CONFIGURE under Settings > Payment configuration)"
)
#: A stand-in for an order's public id in the return URLs shown.
_ANY_ORDER = "00000000-0000-0000-0000-000000000000"


def examine(*, client: DokuClient | None = None) -> DoctorReport:
    """Check the configured account against the configured DOKU; the report of every finding.

    Creates one payment link at DOKU (and asks DOKU to cancel it); writes nothing to the
    database. Call it with no transaction open: it waits for DOKU.
    """
    try:
        config = get_config()
    except DokuConfigurationError as err:
        return DoctorReport.of(
            [Finding("settings", PROBLEM, str(err), "Fix DOKU_CHECKOUT; manage.py check lists every problem.")]
        )
    account = check_account(config, client or DokuClient(config))
    findings = [
        *account.findings,
        notification_finding(config),
        callback_finding(config),
        csp_finding(config, account.payment_url),
        deploy_finding(config),
    ]
    return DoctorReport.of(
        findings,
        environment=config.environment,
        api_base_url=config.api_base_url,
        client_id=config.client_id,
        secrets=[config.secret_key, *config.previous_secret_keys],
    )


def _reachability(url: str, *, for_doku: bool) -> tuple[list[str], list[str]]:
    """What stops DOKU's servers (or shoppers) from reaching ``url`` (problems), and what may (warnings)."""
    problems, warnings = not_public_https(url), []
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if for_doku and host.endswith(TUNNEL_SUFFIXES):
        warnings.append(f"{host} is a tunnel's domain, which DOKU's documentation says it refuses")
    if for_doku and parts.port not in (None, 443):
        warnings.append(f"port {parts.port} is unusual: DOKU's documentation says it may not call it")
    return problems, warnings


def notification_finding(config: DokuCheckoutSettings) -> Finding:
    """The exact notification URL to enter in DOKU's back office, and whether DOKU can call it."""
    try:
        url = notification_url(config)
    except NoReverseMatch:
        return Finding(
            "notification_url",
            PROBLEM,
            "the app's URLs are not in the URLconf: DOKU has nowhere to send notifications.",
            'Add path("doku/", include("django_doku_checkout.urls")) to the project\'s urls.py.',
        )
    if url is None:
        return Finding(
            "notification_url",
            PROBLEM,
            "SITE_URL is not set, so the URL DOKU must call is not known.",
            "Set DOKU_CHECKOUT['SITE_URL'] to the shop's public address, e.g. 'https://shop.example.com'.",
        )
    enter = f"Enter {url} in DOKU's {config.environment} back office: {BACK_OFFICE_PLACE}."
    if config.environment == "simulator":
        # A standalone simulator knows nothing of SITE_URL: it calls what its command line says.
        calls = (
            "the simulator calls it"
            if is_mounted(config)
            else "the standalone simulator calls only its --notification-url: start it with this one"
        )
        return Finding(
            "notification_url",
            OK,
            f"{url} ({calls}; DOKU's sandbox and production need it public and https).",
            details=(f"With DOKU, enter the shop's public https URL in DOKU's back office: {BACK_OFFICE_PLACE}.",),
        )
    problems, warnings = _reachability(url, for_doku=True)
    details = tuple(_mismatch(config, url))
    if problems:
        return Finding(
            "notification_url",
            PROBLEM,
            f"{url}: DOKU cannot call it: {'; '.join(problems)}.",
            "Set SITE_URL to the shop's public https address, then enter the URL this shows in DOKU's "
            f"back office: {BACK_OFFICE_PLACE}.",
            details,
        )
    if warnings or details:
        return Finding("notification_url", WARNING, f"{url}: {'; '.join(warnings) or 'see below'}.", enter, details)
    return Finding("notification_url", OK, url, enter)


def _mismatch(config: DokuCheckoutSettings, url: str) -> list[str]:
    """NOTIFICATION_PATH and SITE_URL disagree about where the app is: one of them is wrong."""
    if not config.notification_path or not config.site_url:
        return []
    from_site = urlsplit(absolute_url(reverse("doku_checkout:notification"), None)).path
    if from_site == urlsplit(url).path:
        return []
    return [
        f"NOTIFICATION_PATH is {config.notification_path}, but SITE_URL and the URLconf put the app's at "
        f"{from_site}: the return URLs and the notification URL disagree about the proxy's prefix."
    ]


def callback_finding(config: DokuCheckoutSettings) -> Finding:
    """Where DOKU sends the shopper back to (``callback_url``, ``callback_url_cancel``, ``callback_url_result``)."""
    try:
        paths = [reverse(f"doku_checkout:{name}", args=[_ANY_ORDER]) for name in ("return", "cancel", "result")]
    except NoReverseMatch:
        return Finding("callback_urls", PROBLEM, "the app's URLs are not in the URLconf.")
    if not config.site_url:
        return Finding(
            "callback_urls",
            WARNING,
            "built from each request's host, as SITE_URL is not set (and not at all outside a request).",
            "Set DOKU_CHECKOUT['SITE_URL'] to the shop's public address.",
        )
    urls = tuple(absolute_url(path, None).replace(_ANY_ORDER, "<order>") for path in paths)
    if config.environment == "simulator":
        return Finding("callback_urls", OK, "DOKU sends the shopper back to:", details=urls)
    problems, _ = _reachability(config.site_url, for_doku=False)
    if not problems:
        return Finding("callback_urls", OK, "DOKU sends the shopper back to:", details=urls)
    # A developer's browser on this machine still comes back in the sandbox; shoppers never would.
    return Finding(
        "callback_urls",
        PROBLEM if config.environment == "production" else WARNING,
        f"shoppers elsewhere cannot come back to SITE_URL: {'; '.join(problems)}.",
        "Set SITE_URL to the shop's public https address.",
        urls,
    )


def csp_finding(config: DokuCheckoutSettings, payment_url: str | None) -> Finding:
    """The sources a pay button needs in the shop's CSP, beside its own, and what its policy blocks (check W006)."""
    popup = config.pay_button_mode == "popup"
    sources = doku_sources(config.environment, config.api_base_url, popup=popup)
    details = [f"{directive} {' '.join(allowed)}" for directive, allowed in sources.items()]
    summary = f"a pay button in {config.pay_button_mode} mode needs DOKU's sources, beside the shop's own:"
    blocked = find_csp_problems()
    if payment_url and origin(payment_url) not in sources["form-action"]:
        return Finding(
            "csp",
            WARNING,
            summary,
            f"DOKU gave the doctor's link a page on {origin(payment_url)}, which these sources do not list: add "
            "it to form-action (and frame-src for the pop-up), and tell the app's maintainers.",
            tuple(details),
        )
    if blocked:
        details += [f"{message.msg} {message.hint}" for message in blocked]
        return Finding("csp", WARNING, summary, "Add the missing sources to the shop's policy.", tuple(details))
    return Finding("csp", OK, summary, details=tuple(details))


def deploy_finding(config: DokuCheckoutSettings) -> Finding:
    """What ``manage.py check --deploy`` reports of this app's settings, from its own check: the doctor agrees with it.

    Against the simulator its errors are a warning: the doctor checks a developer's set-up there,
    and says that this set-up cannot go live.
    """
    found = check_deployment()
    errors = [message for message in found if message.is_serious()]
    if not found:
        return Finding("deploy", OK, "manage.py check --deploy reports nothing about DOKU_CHECKOUT.")
    ids = ", ".join(str(message.id) for message in found)
    details = tuple(f"{message.id}: {message.msg}" for message in found)
    if errors and config.environment == "simulator":
        action = (
            "Switch ENVIRONMENT to 'sandbox' with DOKU's sandbox keys, run the doctor again, then to 'production' "
            "with the production keys."
        )
    else:
        action = " ".join(dict.fromkeys(str(message.hint) for message in found if message.hint))
    if not errors:
        return Finding("deploy", WARNING, f"manage.py check --deploy warns: {ids}.", action, details)
    status = WARNING if config.environment == "simulator" else PROBLEM
    return Finding(
        "deploy", status, f"this configuration cannot go live: manage.py check --deploy reports {ids}.", action, details
    )
