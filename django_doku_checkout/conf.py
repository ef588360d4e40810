"""The ``DOKU_CHECKOUT`` setting, read lazily into a frozen dataclass, and its checks.

Every key is declared once, in :mod:`django_doku_checkout.settings_table`; this module reads
the raw dict from that declaration (:func:`get_config`) and reports what is wrong with it
(:func:`find_problems`, :func:`find_deployment_problems`). The few rules that tie several
keys together are the small functions below.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage

from django_doku_checkout.exceptions import DokuConfigurationError
from django_doku_checkout.public_urls import not_public_https
from django_doku_checkout.setting_rules import Setting, check_message, setting_name
from django_doku_checkout.settings_table import (
    API_BASE_URLS,
    CARD_PAGE_THEME_KEYS,
    CHECKOUT_CSS_HOSTS,
    CHECKOUT_CSS_PATH,
    CHECKOUT_JS_HOSTS,
    CHECKOUT_JS_PATH,
    DEFAULTS,
    ENVIRONMENTS,
    PAY_BUTTON_MODES,
    PAYMENT_PAGE_HOSTS,
    SETTINGS,
    DokuCheckoutSettings,
    settings_object,
)

__all__ = [
    "API_BASE_URLS",
    "CARD_PAGE_THEME_KEYS",
    "CHECKOUT_CSS_HOSTS",
    "CHECKOUT_CSS_PATH",
    "CHECKOUT_JS_HOSTS",
    "CHECKOUT_JS_PATH",
    "DEFAULTS",
    "ENVIRONMENTS",
    "PAYMENT_PAGE_HOSTS",
    "PAY_BUTTON_MODES",
    "SETTINGS",
    "WELL_KNOWN_SECRET_KEYS",
    "DokuCheckoutSettings",
    "Setting",
    "find_deployment_problems",
    "find_problems",
    "get_config",
    "setting_name",
]

#: Secret keys printed in this project's code and documents: whoever reads them can sign
#: notifications for a shop that uses one.
WELL_KNOWN_SECRET_KEYS = frozenset({"simulator-secret", "simulator-secret-for-tests", "SK-test-secret-123"})

# The client id DOKU prints in its documentation samples, and words that mark a test account.
_SANDBOX_LOOKING_CLIENT_ID = re.compile(r"MCH-0001-10791114622547|sandbox|test|demo|dummy", re.IGNORECASE)


def _not_a_dict(raw: object) -> CheckMessage:
    if raw is None:
        return check_message(
            "error",
            "E001",
            "The DOKU_CHECKOUT setting is missing.",
            "Add DOKU_CHECKOUT = {'CLIENT_ID': ..., 'SECRET_KEY': ..., 'ENVIRONMENT': 'sandbox'} to your settings.",
        )
    return check_message(
        "error",
        "E001",
        f"The DOKU_CHECKOUT setting must be a dict, not {type(raw).__name__}.",
        "Use DOKU_CHECKOUT = {'CLIENT_ID': ..., 'SECRET_KEY': ..., 'ENVIRONMENT': 'sandbox'}.",
    )


def _read_keys(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[CheckMessage]]:
    """Each key's value as the settings object holds it, and the errors of those that cannot be read."""
    values: dict[str, Any] = {}
    errors: list[CheckMessage] = []
    for setting in SETTINGS:
        problem = setting.problem(raw)
        if problem is None:
            values[setting.key] = setting.read(raw, values)
        else:
            errors.append(problem)
    return values, errors


# --- rules that tie several keys together: each gets the keys that could be read -------------------


def _unknown_keys(raw: Mapping[str, Any]) -> list[CheckMessage]:
    problems = []
    for key in sorted(str(key) for key in raw if key not in DEFAULTS):
        close = difflib.get_close_matches(key.upper(), DEFAULTS, n=1, cutoff=0.7) or [
            known for known in DEFAULTS if known.replace("_", "") in key.upper().replace("_", "")
        ]
        problems.append(
            check_message(
                "error",
                "E007",
                f"{setting_name(key)} is not a setting of django-doku-checkout.",
                f"Did you mean {close[0]!r}?" if close else f"Known keys: {', '.join(DEFAULTS)}.",
            )
        )
    return problems


def _attempt_longer_than_deadline(values: Mapping[str, Any]) -> list[CheckMessage]:
    if "TIMEOUT" not in values or "DEADLINE" not in values:
        return []
    (connect, read), deadline = values["TIMEOUT"], values["DEADLINE"]
    if connect + read <= deadline:
        return []
    return [
        check_message(
            "warning",
            "W004",
            f"{setting_name('TIMEOUT')} allows one attempt {connect:g} + {read:g} seconds, more than "
            f"{setting_name('DEADLINE')} ({deadline:g}): an attempt is cut short and "
            f"{setting_name('MAX_RETRIES')} never applies.",
            "Keep connect + read timeouts under DEADLINE, e.g. 'TIMEOUT': (5, 15) with 'DEADLINE': 25.",
        )
    ]


def _production_with_test_credentials_or_debug(values: Mapping[str, Any], debug: bool) -> list[CheckMessage]:
    if values.get("ENVIRONMENT") != "production":
        return []
    problems = []
    client_id = values.get("CLIENT_ID")
    if client_id and _SANDBOX_LOOKING_CLIENT_ID.search(client_id):
        problems.append(
            check_message(
                "warning",
                "W001",
                f"{setting_name('ENVIRONMENT')} is 'production' but {setting_name('CLIENT_ID')} "
                f"({client_id!r}) looks like a sandbox or sample client id.",
                "Use the production Client ID and Secret Key from DOKU's production back office.",
            )
        )
    if debug:
        problems.append(
            check_message(
                "warning",
                "W002",
                f"{setting_name('ENVIRONMENT')} is 'production' while DEBUG is True.",
                "Real payments should only run with DEBUG = False: error pages would show order data.",
            )
        )
    return problems


def _same_origin(given: SplitResult, doku: SplitResult) -> bool:
    """Whether ``given`` is DOKU's own URL: https, DOKU's host on its port, no path of its own.

    Plain HTTP to DOKU's host would send the keys and the shoppers' data unencrypted; a path
    would put every call beside DOKU's endpoints, where DOKU answers 404.
    """
    try:
        port = given.port
    except ValueError:
        return False
    return (
        given.scheme == doku.scheme
        and given.hostname == doku.hostname
        and port in (None, 443)
        and given.path in ("", "/")
        and not given.query
    )


def _api_host_not_doku(
    raw: Mapping[str, Any], values: Mapping[str, Any], *, level: Literal["error", "warning"]
) -> list[CheckMessage]:
    """W008 (E043 with ``--deploy``): outside the simulator, ``API_BASE_URL`` must be the environment's DOKU URL.

    DOKU's host over https, on its own port, with no path: ``http://api.doku.com`` is reported too.

    A mounted simulator's URL kept after switching ``ENVIRONMENT`` to ``"sandbox"`` sends
    the real keys to the shop's own simulator, which answers 401: the user blames the keys.
    """
    environment = values.get("ENVIRONMENT")
    if "API_BASE_URL" not in values or environment in (None, "simulator"):
        return []
    given, doku = urlsplit(values["API_BASE_URL"]), urlsplit(API_BASE_URLS[environment])
    if _same_origin(given, doku):
        return []
    # Another host is named by its host; DOKU's own, over HTTP or with a path, by its whole URL.
    other_host = given.hostname != doku.hostname
    where, expected = (given.hostname, doku.hostname) if other_host else (given.geturl(), doku.geturl())
    return [
        check_message(
            level,
            "E043" if level == "error" else "W008",
            f"{setting_name('API_BASE_URL')} is {raw.get('API_BASE_URL')!r} while {setting_name('ENVIRONMENT')} "
            f"is {environment!r}: every call meant for DOKU goes to {where}, not to DOKU's {expected}.",
            "Remove API_BASE_URL to call DOKU's own host for ENVIRONMENT, or set it only while ENVIRONMENT is "
            "'simulator' (a mounted simulator's URL must not outlive the switch to 'sandbox').",
        )
    ]


def _split_rule_without_sub_account(values: Mapping[str, Any]) -> list[CheckMessage]:
    """E045: DOKU takes a split rule only beside the sub account it divides; alone it would be dropped."""
    if not values.get("SUB_ACCOUNT_SPLIT_RULE_ID") or values.get("SUB_ACCOUNT_ID"):
        return []
    return [
        check_message(
            "error",
            "E045",
            f"{setting_name('SUB_ACCOUNT_SPLIT_RULE_ID')} is set without {setting_name('SUB_ACCOUNT_ID')}: "
            "DOKU applies a split rule only to its sub account's payments, so it would never be sent.",
            "Set SUB_ACCOUNT_ID to the sub account the rule belongs to, or remove SUB_ACCOUNT_SPLIT_RULE_ID.",
        )
    ]


#: The shortest ``HEALTH_TOKEN`` not worth guessing: 32 characters of ``secrets.token_urlsafe`` are 192 bits.
HEALTH_TOKEN_MIN_LENGTH = 32


def _short_health_token(values: Mapping[str, Any]) -> list[CheckMessage]:
    """W012: a short ``HEALTH_TOKEN`` can be guessed, and the endpoint it opens reads the shop's payments."""
    token = values.get("HEALTH_TOKEN")
    if not token or len(token.strip()) >= HEALTH_TOKEN_MIN_LENGTH:
        return []
    return [
        check_message(
            "warning",
            "W012",
            f"{setting_name('HEALTH_TOKEN')} is shorter than {HEALTH_TOKEN_MIN_LENGTH} characters: whoever guesses "
            "it reads the health of the shop's payments (counts and invoice numbers).",
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))'.",
        )
    ]


def _pending_age_within_a_link(values: Mapping[str, Any]) -> list[CheckMessage]:
    """W013: the health check would call orders stuck while their link may still be paid."""
    if "HEALTH_PENDING_AGE" not in values or "PAYMENT_DUE_DATE" not in values:
        return []
    age, due = values["HEALTH_PENDING_AGE"], values["PAYMENT_DUE_DATE"]
    if age >= due * 60:
        return []
    return [
        check_message(
            "warning",
            "W013",
            f"{setting_name('HEALTH_PENDING_AGE')} ({age} seconds) is shorter than a payment link's life "
            f"(PAYMENT_DUE_DATE, {due} minutes): doku_checkout_health warns about orders shoppers may still pay.",
            f"Set HEALTH_PENDING_AGE to at least {due * 60} seconds, plus the time reconciliation takes to run.",
        )
    ]


def find_problems(raw: object, *, debug: bool) -> list[CheckMessage]:
    """Every problem with a raw ``DOKU_CHECKOUT`` value, as ``manage.py check`` reports it."""
    if not isinstance(raw, Mapping):
        return [_not_a_dict(raw)]
    values, problems = _read_keys(raw)
    return [
        *problems,
        *_unknown_keys(raw),
        *_attempt_longer_than_deadline(values),
        *_production_with_test_credentials_or_debug(values, debug),
        *_api_host_not_doku(raw, values, level="warning"),
        *_split_rule_without_sub_account(values),
        *_short_health_token(values),
        *_pending_age_within_a_link(values),
    ]


def _simulator_or_sandbox_live(values: Mapping[str, Any]) -> list[CheckMessage]:
    if values.get("ENVIRONMENT") == "simulator":
        return [
            check_message(
                "error",
                "E027",
                f"{setting_name('ENVIRONMENT')} is 'simulator' on a deployed site: a simulator takes any "
                "payment, so every order could be paid for free.",
                "Set ENVIRONMENT to 'production' (or 'sandbox' while testing) with DOKU's credentials.",
            )
        ]
    if values.get("ENVIRONMENT") == "sandbox":
        return [
            check_message(
                "warning",
                "W003",
                f"{setting_name('ENVIRONMENT')} is 'sandbox' on a deployed site: no real payment will be taken.",
                "Set ENVIRONMENT to 'production' with production credentials when the shop goes live.",
            )
        ]
    return []


def _published_secret_key(raw: Mapping[str, Any]) -> list[CheckMessage]:
    if raw.get("SECRET_KEY") not in WELL_KNOWN_SECRET_KEYS:
        return []
    return [
        check_message(
            "error",
            "E028",
            f"{setting_name('SECRET_KEY')} is a key published in django-doku-checkout's own code: anyone can "
            "sign notifications with it.",
            "Use the Secret Key from DOKU's back office, loaded from the environment.",
        )
    ]


def _site_url_not_public_https(raw: Mapping[str, Any], values: Mapping[str, Any]) -> list[CheckMessage]:
    """E050: outside the simulator, DOKU calls the notification URL built from ``SITE_URL``: it must be public https.

    The same judgement as the going-live doctor's (:func:`~django_doku_checkout.public_urls.not_public_https`).
    """
    environment = values.get("ENVIRONMENT")
    if not values.get("SITE_URL") or environment in (None, "simulator"):
        return []
    reasons = not_public_https(values["SITE_URL"])
    if not reasons:
        return []
    return [
        check_message(
            "error",
            "E050",
            f"{setting_name('SITE_URL')} is {raw.get('SITE_URL')!r} while {setting_name('ENVIRONMENT')} is "
            f"{environment!r}: DOKU cannot call its notification URL: {'; '.join(reasons)}.",
            "Set SITE_URL to the shop's public https address; manage.py doku_checkout_doctor shows the "
            "notification URL to enter in DOKU's back office.",
        )
    ]


def find_deployment_problems(raw: object) -> list[CheckMessage]:
    """Problems that only matter on a deployed site (``manage.py check --deploy``).

    ``--deploy`` means the settings are about to go live, so these are reported whatever
    ``DEBUG`` says (startproject leaves ``DEBUG`` on).
    """
    if not isinstance(raw, Mapping):
        return []
    values, _ = _read_keys(raw)
    return [
        *_simulator_or_sandbox_live(values),
        *_published_secret_key(raw),
        *_api_host_not_doku(raw, values, level="error"),
        *_site_url_not_public_https(raw, values),
    ]


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
    errors = [problem for problem in find_problems(raw, debug=debug) if problem.is_serious()]
    if errors:
        raise DokuConfigurationError(f"{errors[0].msg} {errors[0].hint}")
    assert isinstance(raw, Mapping)  # noqa: S101  (find_problems reports anything else)
    values, _ = _read_keys(raw)
    return settings_object(values)
