"""A pytest plugin for shops' own tests: DOKU answered by the simulator, in-process.

    def test_paid_order_ships(doku_simulator, client):
        order = create_order(...)                      # your code
        client.post(reverse("doku_checkout:pay", args=[order.public_id]))
        doku_simulator.pay(order)                      # signed notification -> order paid
        assert order.shipment_set.exists()             # your payment_succeeded handler ran

Registered through the ``pytest11`` entry point; nothing is imported before a fixture runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.dispatch import Signal

    from django_doku_checkout.models import Order
    from django_doku_checkout.services.deliveries import DeliverySummary
    from django_doku_checkout.simulator.store import SimulatedSession

SIMULATOR_BASE_URL = "http://testserver/doku-simulator"
CLIENT_ID = "SIMULATOR-CLIENT"
SECRET_KEY = "simulator-secret-for-tests"  # noqa: S105 - the simulator's own test key


class ReceiverFailure(Exception):
    """Raised in place of a receiver by :meth:`DokuSimulator.failing_receiver`."""


def _swap_receiver(signal: Signal, old: Callable[..., Any], new: Callable[..., Any]) -> bool:
    """Put ``new`` where ``old`` is connected to ``signal``, keeping its sender and dispatch_uid."""
    import weakref

    swapped = False
    with signal.lock:
        entries = []
        for entry in signal.receivers:
            connected = entry[1]() if isinstance(entry[1], weakref.ReferenceType) else entry[1]
            if connected is old:
                entry = (entry[0], new, *entry[2:])
                swapped = True
            entries.append(entry)
        signal.receivers = entries
        signal.sender_receivers_cache.clear()
    return swapped


class DokuSimulator:
    """Handle returned by the ``doku_simulator`` fixture."""

    def session_for(self, order: Order) -> SimulatedSession:
        """The simulated DOKU session behind the order's newest payment link."""
        from django_doku_checkout.services.link_reads import newest_link
        from django_doku_checkout.simulator.store import STORE

        link = newest_link(order)
        found = STORE.find(CLIENT_ID, link.invoice_number) if link else None
        if found is None:
            raise LookupError(f"Order {order.invoice_number} has no payment link at the simulator yet.")
        return found

    def _settle(self, order: Order, action: str, method: str) -> int | None:
        from django_doku_checkout.services import create_payment_link
        from django_doku_checkout.simulator.actions import settle

        if not order.checkout_sessions.exclude(status="error").exists():
            create_payment_link(order)
        sent = settle(self.session_for(order), action, method)
        order.refresh_from_db()
        codes = [attempt.status_code for notification in sent for attempt in notification.attempts]
        return codes[-1] if codes else None

    def pay(self, order: Order, method: str = "VIRTUAL_ACCOUNT_BCA") -> int | None:
        """Pay the order at the simulator; returns the HTTP status the shop answered DOKU with."""
        return self._settle(order, "pay", method)

    def fail(self, order: Order, method: str = "VIRTUAL_ACCOUNT_BCA") -> int | None:
        """A failed attempt: DOKU sends FAILED and the shopper may try again."""
        return self._settle(order, "fail", method)

    def authorize(self, order: Order) -> int | None:
        """Hold a card payment without taking it: DOKU sends ``PENDING`` with type ``AUTHORIZE``."""
        return self._settle(order, "authorize", "CREDIT_CARD")

    def expire(self, order: Order) -> None:
        """Let the payment link expire at the simulator and DOKU send its expired notification."""
        self._settle(order, "expire", "")

    def settle(self, order: Order) -> None:
        """DOKU settles the order's payment: from now on it refunds in parts, and no longer voids.

        Before settlement DOKU only voids the whole amount, as the simulator does.
        """
        from django_doku_checkout.simulator.actions import mark_settled

        mark_settled(self.session_for(order))

    def refund(self, order: Order, amount: int | None = None, *, void: bool = False) -> int | None:
        """Refund (or void) the order's payment in DOKU's back office: DOKU notifies ``REFUNDED`` (``VOIDED``).

        ``amount`` None refunds what is left. Before :meth:`settle` only the whole amount can
        be given back (a void). Returns the HTTP status the shop answered. To refund from the
        shop's side, call ``services.refund_payment(order)``: the simulator answers DOKU's card
        refund API too, and notifies the refund.
        """
        from django_doku_checkout.simulator.actions import refund_in_back_office

        sent = refund_in_back_office(self.session_for(order), amount, void=void)
        order.refresh_from_db()
        codes = [attempt.status_code for notification in sent for attempt in notification.attempts]
        return codes[-1] if codes else None

    def notify(self, order: Order, status: str = "SUCCESS", *, amount: int | None = None) -> int:
        """Send one correctly signed notification for the order's link; returns the shop's status."""
        from urllib.parse import urlsplit

        from django_doku_checkout.payloads import encode_body
        from django_doku_checkout.simulator import notifier
        from django_doku_checkout.simulator.merchants import merchants

        link = self.session_for(order)
        merchant = merchants()[CLIENT_ID]
        body = encode_body(notifier.notification_body(link, status, amount=amount))
        path = urlsplit(merchant.notification_url or "").path
        return _django_client_transport(path, body, notifier.signed_headers(merchant, path, body))

    @contextmanager
    def failing_receiver(self, receiver: Callable[..., Any], *, times: int = 1) -> Iterator[None]:
        """Make one of the shop's signal receivers raise :class:`ReceiverFailure` on its next ``times`` calls.

        The app records the failure and retries it later, as with a real outage; run
        :meth:`deliver` to retry now. The receiver is restored when the block ends.
        """
        from django_doku_checkout.services.deliveries import SIGNALS

        failures = {"left": times}

        @functools.wraps(receiver)  # the same dotted path: deliveries find it under the receiver's name
        def failing(*args: Any, **kwargs: Any) -> Any:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise ReceiverFailure(f"{receiver.__qualname__} failed on purpose (doku_simulator.failing_receiver)")
            return receiver(*args, **kwargs)

        swapped = [signal for signal in SIGNALS.values() if _swap_receiver(signal, receiver, failing)]
        if not swapped:
            raise LookupError(f"{receiver!r} is not connected to any django_doku_checkout signal.")
        try:
            yield
        finally:
            for signal in swapped:
                _swap_receiver(signal, failing, receiver)

    def deliver(self) -> DeliverySummary:
        """Retry every failed signal delivery now, as ``manage.py doku_checkout_deliver --all`` does."""
        from django.test import TestCase

        from django_doku_checkout.services.deliveries import deliver_due

        with TestCase.captureOnCommitCallbacks(execute=True):
            return deliver_due(retry_all=True)

    def set_faults(self, **faults: Any) -> None:
        """Turn on simulator faults for the shop, e.g. ``set_faults(error_rate=1)``."""
        from django_doku_checkout.simulator.faults import Faults
        from django_doku_checkout.simulator.store import STORE

        STORE.set_faults(CLIENT_ID, Faults().updated(faults))


def _django_client_transport(url: str, body: bytes, headers: dict[str, str]) -> int:
    from urllib.parse import urlsplit

    from django.test import Client, TestCase

    # Tests usually run inside a transaction that never commits; run the app's on-commit
    # signals anyway, as a real commit would, so the shop's receivers can be tested.
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = Client().post(urlsplit(url).path, data=body, content_type="application/json", headers=headers)
    return response.status_code


@pytest.fixture
def doku_simulator(settings: Any, db: None) -> Iterator[DokuSimulator]:
    """Point the app at an in-process DOKU simulator; notifications reach the shop synchronously."""
    from django.urls import reverse

    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.simulator import notifier
    from django_doku_checkout.simulator.inprocess import InProcessSimulator
    from django_doku_checkout.simulator.store import STORE

    settings.DOKU_CHECKOUT = {
        "CLIENT_ID": CLIENT_ID,
        "SECRET_KEY": SECRET_KEY,
        "ENVIRONMENT": "simulator",
        "API_BASE_URL": SIMULATOR_BASE_URL,
        "SITE_URL": "http://testserver",
        "RETRY_BACKOFF": 0,
        "STATUS_CHECK_INTERVAL": 0,
    }
    settings.DOKU_SIMULATOR = {
        "MERCHANTS": [
            {
                "CLIENT_ID": CLIENT_ID,
                "SECRET_KEY": SECRET_KEY,
                "NOTIFICATION_URL": "http://testserver" + reverse("doku_checkout:notification"),
            }
        ],
        "RETRY_SCHEDULE": [],
        "ENABLED": True,  # tests run with DEBUG off, as production does
    }
    STORE.reset()
    DokuClient.transport_adapter = InProcessSimulator(SIMULATOR_BASE_URL)
    notifier.use_transport(_django_client_transport, synchronous=True)
    try:
        yield DokuSimulator()
    finally:
        DokuClient.transport_adapter = None
        notifier.use_transport(None)
        STORE.reset()
