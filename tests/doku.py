"""The tests' merchant at DOKU, and what DOKU says and does for it.

The credentials the test settings, the simulator and the served shop share; DOKU's answer
to a new payment link (for ``responses`` at the HTTP edge); and payments made at the
simulator the way a shopper (or an outage) makes them. Nothing here imports the app's
models at import time, so settings modules may import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_doku_checkout.models import Order

SECRET = "SK-test-secret-123"  # noqa: S105 - the tests' published key
CLIENT_ID = "MCH-0001-10791114622547"
SANDBOX = "https://api-sandbox.doku.com"


def checkout_success(
    invoice_number: str = "INV-1", *, url: str = "https://sandbox.doku.com/checkout-link-v2/tok123"
) -> dict[str, Any]:
    """DOKU's answer to a payment link it created (the body ``/checkout/v1/payment`` returns)."""
    return {
        "message": ["SUCCESS"],
        "response": {
            "order": {"amount": "20000", "invoice_number": invoice_number, "currency": "IDR"},
            "payment": {
                "payment_due_date": 60,
                "token_id": "tok123",
                "url": url,
                "expired_date": "20991231235959",
            },
        },
    }


def paid_quietly(order: Order) -> None:
    """The shopper paid at the simulator; no notification has been sent yet."""
    from django_doku_checkout.simulator.actions import settle
    from django_doku_checkout.simulator.faults import Faults
    from django_doku_checkout.simulator.store import STORE

    session = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=True))
    settle(session, "pay", "VIRTUAL_ACCOUNT_BCA")
    STORE.set_faults(CLIENT_ID, Faults())


def sale_after_an_outage(order_factory: Any, doku_simulator: Any, *, paid: int, unpaid: int) -> list[Order]:
    """``paid`` orders paid at DOKU whose notification never arrived, then ``unpaid`` with an open link."""
    from django_doku_checkout import services

    orders = [order_factory() for _ in range(paid + unpaid)]
    doku_simulator.set_faults(drop_notifications=True)
    for order in orders[:paid]:
        doku_simulator.pay(order)
    for order in orders[paid:]:
        services.create_payment_link(order)
    return orders


def notification_sender(live_url: str, order: Order, status: str = "SUCCESS") -> Callable[[], int]:
    """A callable that posts one freshly signed DOKU notification for the order's link, over HTTP."""
    from urllib.parse import urlsplit

    import requests

    from django_doku_checkout.payloads import encode_body
    from django_doku_checkout.simulator import notifier
    from django_doku_checkout.simulator.merchants import merchants
    from django_doku_checkout.simulator.store import STORE

    session = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    merchant = merchants()[CLIENT_ID]
    body = encode_body(notifier.notification_body(session, status))
    path = urlsplit(merchant.notification_url or "").path

    def send() -> int:
        headers = {**notifier.signed_headers(merchant, path, body), "Content-Type": "application/json"}
        return requests.post(live_url + path, data=body, headers=headers, timeout=30).status_code

    return send


def forged_notification(live_url: str, order: Order) -> int:
    """A notification for the order's link signed with the wrong secret key, posted over HTTP; DOKU's answer status."""
    import requests

    from django_doku_checkout.payloads import encode_body
    from django_doku_checkout.simulator import notifier
    from django_doku_checkout.simulator.merchants import Merchant
    from django_doku_checkout.simulator.store import STORE

    session = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    body = encode_body(notifier.notification_body(session, "SUCCESS"))
    path = "/doku/notification/"
    headers = {
        **notifier.signed_headers(Merchant(CLIENT_ID, "not-the-secret"), path, body),
        "Content-Type": "application/json",
    }
    return requests.post(live_url + path, data=body, headers=headers, timeout=30).status_code
