"""The doctor's questions to DOKU: do the Client-Id and secret key work, and how far off is this server's clock?

It creates a minimal payment link (``DOCTOR-…``, 10,000 rupiah, open a few minutes), reads its
status, and asks DOKU to cancel it, through the same :class:`~django_doku_checkout.client.DokuClient`
calls and request bodies as the shop's links. No order is made for it, and no row written: the
link is nobody's, its URL is shown to nobody, and a shop's order never carries a ``DOCTOR-``
invoice number (``create_order`` gives orders their own). DOKU's ``Date`` header on its first
answer, a refusal too, tells how far this server's clock is from DOKU's.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from django.conf import settings

from django_doku_checkout import payloads
from django_doku_checkout.client import CHECKOUT_PATH, CONNECT_TIMEOUT, READ_TIMEOUT, REFUSED, DokuClient
from django_doku_checkout.conf import API_BASE_URLS, DokuCheckoutSettings
from django_doku_checkout.exceptions import DokuAPIError, DokuTransportError
from django_doku_checkout.models import CheckoutSession
from django_doku_checkout.services.cancellations import cancellation_body
from django_doku_checkout.services.doctor_findings import OK, PROBLEM, WARNING, Finding, mask
from django_doku_checkout.services.doctor_shop import is_mounted, start_command
from django_doku_checkout.services.status import fetch_status

#: The doctor's link: the smallest amount every channel takes, open as briefly as is useful.
DOCTOR_AMOUNT = 10_000
DOCTOR_LINK_MINUTES = 5
#: Seconds between this server's clock and DOKU's above which the doctor warns, and above which
#: DOKU refuses a request's Request-Timestamp (the simulator's five minutes; DOKU publishes none).
CLOCK_WARNING = 60
CLOCK_REFUSED = 300


@dataclass(frozen=True)
class AccountCheck:
    """What DOKU's answers showed, and the payment URL DOKU gave the doctor's link (None without one)."""

    findings: list[Finding]
    payment_url: str | None = None


#: The doctor's invoice numbers (:func:`doctor_invoice_number`): never a shop's order.
DOCTOR_INVOICE = re.compile(r"DOCTOR-\d{14}-[0-9A-F]{4}")


def is_doctors_link(invoice_number: str) -> bool:
    """Whether ``invoice_number`` is one of the doctor's links (DOKU notifies about them as any other)."""
    return DOCTOR_INVOICE.fullmatch(invoice_number) is not None


def doctor_invoice_number(now: datetime) -> str:
    """``DOCTOR-yyyymmddHHMMSS-XXXX``: recognisable in DOKU's back office, unique, short enough for any channel."""
    return f"DOCTOR-{now:%Y%m%d%H%M%S}-{secrets.token_hex(2).upper()}"


def doctor_link_body(invoice_number: str) -> dict[str, object]:
    """The doctor's Checkout request: every channel active on the account, no customer, no return URL."""
    body = payloads.build_checkout_body(
        payloads.CheckoutData(
            invoice_number=invoice_number,
            amount=DOCTOR_AMOUNT,
            line_items=[payloads.LineItemData(name="Going-live check", price=DOCTOR_AMOUNT, quantity=1)],
            payment_due_date=DOCTOR_LINK_MINUTES,
        )
    )
    payloads.validate_checkout_body(body).raise_for_errors()
    return body


def check_account(config: DokuCheckoutSettings, client: DokuClient) -> AccountCheck:
    """Create the doctor's link, read its status, cancel it: the credentials', the link's and the clock's findings."""
    link = CheckoutSession(invoice_number=doctor_invoice_number(datetime.now(UTC)))
    try:
        response = client.create_checkout_payment(doctor_link_body(link.invoice_number))
    except DokuAPIError as err:
        return AccountCheck([_refused(err, config), clock_finding(err.headers, datetime.now(UTC))])
    except DokuTransportError as err:
        return AccountCheck(
            [
                _unreachable(err, config),
                _clock_unknown(
                    "DOKU did not answer.",
                    "It is measured once DOKU answers: fix the problem above, then run the doctor again.",
                ),
            ]
        )
    received = datetime.now(UTC)
    link.request_id = response.request_id
    answer = response.data.get("response")
    payment = answer.get("payment") if isinstance(answer, dict) else None
    payment_url = payment.get("url") if isinstance(payment, dict) else None
    credentials = _status_finding(link, client)
    return AccountCheck(
        [credentials, _cancel(link, client), clock_finding(response.headers, received)],
        payment_url if isinstance(payment_url, str) and payment_url else None,
    )


def _status_finding(link: CheckoutSession, client: DokuClient) -> Finding:
    created = f"DOKU created the doctor's payment link {link.invoice_number}"
    try:
        status = fetch_status(link, client=client).transaction_status
    except DokuAPIError as err:
        # Without DOKU's order-level status, a Checkout order is not found until a channel is picked:
        # a 404, or the 200 with an "error" key DOKU's plugins read as "not found".
        not_found = err.status_code == 404 or (
            err.status_code == 200 and isinstance(err.body, dict) and "error" in err.body
        )
        if not not_found:
            return _status_failed(created, str(err))
        return Finding("credentials", OK, f"{created}; its Status API does not list it before a channel is picked.")
    except DokuTransportError as err:
        return _status_failed(created, str(err))
    return Finding("credentials", OK, f"{created} and its Status API answered {status}.")


def _status_failed(created: str, error: str) -> Finding:
    return Finding(
        "credentials",
        WARNING,
        f"{created}, but its Status API failed: {error}",
        "The return page and doku_checkout_reconcile ask the Status API: run the doctor again; "
        "if it fails again, tell DOKU's support the Request-Id.",
    )


def _cancel(link: CheckoutSession, client: DokuClient) -> Finding:
    closes = f"it closes by itself within {DOCTOR_LINK_MINUTES} minutes, and nobody was given its URL."
    try:
        client.cancel_checkout(cancellation_body(link))
    except DokuAPIError as err:
        refusal = "; ".join(err.messages) or f"HTTP {err.status_code}"
        return Finding(
            "cleanup",
            OK,
            f"DOKU did not cancel it ({refusal}): {closes}",
            details=(
                "DOKU cancels only orders whose channels are all bank transfers (but BTN, BNC, BPD and OCBC), "
                "QRIS or convenience stores, for accounts it enabled the Cancel Order API for.",
            ),
        )
    except DokuTransportError as err:
        return Finding("cleanup", WARNING, f"DOKU could not be asked to cancel it ({err}): {closes}")
    return Finding("cleanup", OK, "DOKU cancelled it: nobody can pay it.")


def _keys_are_in(config: DokuCheckoutSettings, flag: str) -> str:
    """Where the right key is: the mounted simulator's settings, the standalone one's ``flag``, or DOKU's back office."""
    if config.environment == "simulator" and is_mounted(config):
        return "the simulator's DOKU_SIMULATOR['MERCHANTS'] (or, without it, the shop's own DOKU_CHECKOUT)"
    if config.environment == "simulator":
        return f"the standalone simulator's {flag}"
    return f"DOKU's {config.environment} back office (Integration > API Keys; the sandbox's and production's differ)"


def _or_restart(config: DokuCheckoutSettings) -> str:
    """A standalone simulator can be restarted with the shop's keys instead: its whole command."""
    if config.environment != "simulator" or is_mounted(config):
        return ""
    return f", or start the simulator with the shop's keys: {start_command(config)}"


def _refused(err: DokuAPIError, config: DokuCheckoutSettings) -> Finding:
    """DOKU answered the link's creation with an error: which setting is likelier wrong, and what to do."""
    if err.status_code in (401, 403):
        action = _authentication_action(err, config)
    elif err.status_code >= 500:
        action = (
            "DOKU's service is failing, not your settings: run the doctor again in a few minutes; if it keeps "
            f"failing, tell DOKU's support the Request-Id {err.request_id}."
        )
    elif err.status_code == 404:
        action = (
            f"DOKU has no {CHECKOUT_PATH} at {config.api_base_url}: remove API_BASE_URL to use DOKU's own "
            "address for ENVIRONMENT, or correct it."
        )
    else:
        action = (
            "DOKU took the credentials but refused the link; its message says why (a channel or a feature "
            f"not active on the account): ask DOKU's support, with the Request-Id {err.request_id}."
        )
    return Finding("credentials", PROBLEM, str(err), action)


def _authentication_action(err: DokuAPIError, config: DokuCheckoutSettings) -> str:
    said = " ".join([*err.messages, str(err.body or "")]).lower()
    client_id = mask(config.client_id)
    if "timestamp" in said:
        return (
            "DOKU refused the Request-Timestamp: this server's clock is off. Synchronise it "
            "(NTP: timedatectl set-ntp true), then run the doctor again."
        )
    if "client" in said and "signature" not in said:
        return (
            f"DOKU does not know the Client-Id {client_id}: the CLIENT_ID setting is likelier wrong. Copy it from "
            f"{_keys_are_in(config, '--client-id')}{_or_restart(config)}."
        )
    if "signature" in said:
        return (
            f"The signature did not verify: the SECRET_KEY setting is likelier wrong (not the key of Client-Id "
            f"{client_id}). Copy it again from {_keys_are_in(config, '--secret-key')}, with no space around it"
            f"{_or_restart(config)}."
        )
    return (
        "DOKU did not say which: CLIENT_ID or SECRET_KEY is wrong. Copy both again from "
        f"{_keys_are_in(config, '--client-id and --secret-key')}{_or_restart(config)}."
    )


def _unreachable(err: DokuTransportError, config: DokuCheckoutSettings) -> Finding:
    """DOKU could not be reached: the next step for each way it failed."""
    host = urlsplit(config.api_base_url)
    address = f"{host.hostname}:{host.port or (443 if host.scheme == 'https' else 80)}"
    if err.kind == CONNECT_TIMEOUT:
        action = (
            f"Let this server open connections to {address} (a firewall, a security group or a proxy is in the "
            "way; a proxy is read from HTTPS_PROXY), then run the doctor again."
        )
    elif err.kind == READ_TIMEOUT:
        action = (
            f"DOKU is slow now: run the doctor again in a few minutes. If DOKU keeps taking longer than TIMEOUT's "
            f"read time ({config.read_timeout:g} s), tell DOKU's support the Request-Id {err.request_id}."
        )
    elif err.kind == REFUSED and config.environment == "simulator" and is_mounted(config):
        action = f"Start the shop that mounts the simulator at {config.api_base_url} (manage.py runserver)."
    elif err.kind == REFUSED and config.environment == "simulator":
        action = (
            f"Start the simulator at {config.api_base_url}: {start_command(config)}. Or mount its URLs in the "
            "shop and point API_BASE_URL at them."
        )
    elif config.api_base_url == API_BASE_URLS.get(config.environment):
        unset = "API_BASE_URL" not in (getattr(settings, "DOKU_CHECKOUT", None) or {})
        action = (
            f"This server could not reach DOKU's {config.environment} host, {host.hostname} "
            f"({'API_BASE_URL is not set' if unset else 'API_BASE_URL names it'}): check this server's DNS and any "
            "proxy."
        )
    elif err.kind == REFUSED:
        action = f"Nothing listens at {address}: remove API_BASE_URL to use DOKU's own address, or correct it."
    else:
        action = f"Check API_BASE_URL ({config.api_base_url}), this server's DNS and any proxy."
    return Finding("credentials", PROBLEM, str(err), action)


def clock_finding(headers: Mapping[str, str], received: datetime) -> Finding:
    """How far this server's clock is from DOKU's, read from the ``Date`` header of DOKU's answer."""
    try:
        doku_time = parsedate_to_datetime(headers["Date"])
    except (KeyError, TypeError, ValueError):
        return _clock_unknown("DOKU's answer carried no Date header.")
    if doku_time.tzinfo is None:
        doku_time = doku_time.replace(tzinfo=UTC)
    # DOKU's Date drops the fraction of its second: DOKU's time was half a second past it, on average.
    skew = round((received - doku_time).total_seconds() - 0.5)
    if skew == 0:
        said = "This server's clock agrees with DOKU's to the second (its Date header)."
    else:
        said = f"This server's clock is {abs(skew)} s {'ahead of' if skew > 0 else 'behind'} DOKU's (its Date header)."
    if abs(skew) <= CLOCK_WARNING:
        return Finding("clock", OK, said)
    return Finding(
        "clock",
        PROBLEM if abs(skew) > CLOCK_REFUSED else WARNING,
        said,
        f"Synchronise the clock (NTP: timedatectl set-ntp true): DOKU refuses a Request-Timestamp more than "
        f"{CLOCK_REFUSED // 60} minutes off.",
    )


def _clock_unknown(
    why: str, action: str = "Check that NTP keeps this server's clock right (timedatectl status)."
) -> Finding:
    return Finding("clock", WARNING, f"Not measured: {why}", action)
