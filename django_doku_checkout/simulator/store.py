"""The simulator's memory: sessions, idempotent replies, notifications and faults."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from django_doku_checkout.payloads import recovery_window
from django_doku_checkout.payment_methods import KNOWN_METHODS
from django_doku_checkout.simulator.faults import Faults

#: What a session that names no channel offers: every channel of DOKU's demo account.
DEMO_METHODS = sorted(KNOWN_METHODS - {"EMONEY_SHOPEEPAY", "VIRTUAL_ACCOUNT_BANK_SYARIAH_MANDIRI"})


@dataclass
class SimulatedRefund:
    """One refund DOKU made of a paid session."""

    amount: int
    type: str
    approval_code: str
    at: datetime
    request_id: str = ""


@dataclass
class SimulatedSession:
    """One Checkout session or card payment page, as DOKU would keep it."""

    token_id: str
    kind: str
    client_id: str
    request_id: str
    body: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    notification_url: str | None
    status: str = "PENDING"
    channel: str | None = None
    transaction_date: datetime | None = None
    #: ``SALE`` for a card paid at once, ``AUTHORIZE`` for a card only held (status PENDING).
    transaction_type: str = ""
    #: Card refunds made through the API or the back office, oldest first.
    refunds: list[SimulatedRefund] = field(default_factory=list)
    #: Cancelled through ``POST /checkout/v3/cancellations``: the page no longer takes a payment.
    cancelled: bool = False
    #: DOKU settled the payment with the merchant: before, only a void of the whole amount is
    #: possible; after, partial and repeated refunds up to the paid amount.
    settled: bool = False

    @property
    def refunded(self) -> int:
        return sum(refund.amount for refund in self.refunds)

    @property
    def order(self) -> dict[str, Any]:
        order = self.body.get("order")
        return order if isinstance(order, dict) else {}

    @property
    def invoice_number(self) -> str:
        return str(self.order.get("invoice_number", ""))

    @property
    def amount(self) -> int:
        return int(self.order.get("amount", 0))

    @property
    def currency(self) -> str:
        return str(self.order.get("currency") or "IDR")

    @property
    def line_items(self) -> list[dict[str, Any]]:
        items = self.order.get("line_items")
        return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []

    @property
    def requested_methods(self) -> list[str]:
        payment = self.body.get("payment")
        methods = payment.get("payment_method_types") if isinstance(payment, dict) else None
        return list(methods) if isinstance(methods, list) else []

    @property
    def offered_methods(self) -> list[str]:
        """The channels the hosted page offers: a card page's card, the requested ones, or every demo one."""
        if self.kind == "card_page":
            return ["CREDIT_CARD"]
        return self.requested_methods or DEMO_METHODS

    @property
    def recoverable_until(self) -> datetime | None:
        """With ``recover_abandoned_cart``, until when DOKU still takes a payment after the expiry."""
        window = recovery_window(self.order) if self.kind == "checkout" else None
        return self.expires_at + window if window is not None else None

    def past_due(self, now: datetime | None = None) -> bool:
        """The payment due date passed unpaid: DOKU's ``ORDER_EXPIRED`` (a recoverable order may still be paid)."""
        return self.status == "EXPIRED" or (self.status != "SUCCESS" and (now or timezone.now()) >= self.expires_at)

    def is_expired(self, now: datetime | None = None) -> bool:
        """No payment can be made any more: past due, and past the abandoned-cart recovery window if any."""
        now = now or timezone.now()
        until = self.recoverable_until
        return self.past_due(now) and (until is None or now >= until)

    @property
    def recovered(self) -> bool:
        """Paid after its due date, in the recovery window: DOKU's ``ORDER_RECOVERED``."""
        return (
            self.status == "SUCCESS" and self.transaction_date is not None and self.transaction_date > self.expires_at
        )


@dataclass
class DeliveryAttempt:
    at: datetime
    status_code: int | None
    error: str = ""


@dataclass
class SimulatedNotification:
    id: int
    client_id: str
    invoice_number: str
    transaction_status: str
    url: str | None
    body: bytes
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    dropped: bool = False
    delivered: bool = False
    finished: bool = False


@dataclass(frozen=True)
class ReceivedRequest:
    """A signed API request the simulator accepted, as sent: for tests to check what DOKU received."""

    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    """The first answer to a Request-Id, replayed with 409 when the same request comes again."""

    body_digest: str
    data: dict[str, Any]


class Store:
    """Thread-safe in-memory state; ``reset()`` between tests."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.idle = threading.Condition(self.lock)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.sessions: dict[str, SimulatedSession] = {}
            self.replies: dict[str, Reply] = {}
            self.notifications: list[SimulatedNotification] = []
            self.received: list[ReceivedRequest] = []
            self.faults: dict[str, Faults] = {}
            self.in_flight = 0

    def faults_for(self, client_id: str) -> Faults:
        with self.lock:
            return self.faults.get(client_id, Faults())

    def set_faults(self, client_id: str, faults: Faults) -> None:
        with self.lock:
            self.faults[client_id] = faults

    def add_session(self, session: SimulatedSession) -> None:
        with self.lock:
            self.sessions[session.token_id] = session

    def session(self, token_id: str) -> SimulatedSession | None:
        with self.lock:
            return self.sessions.get(token_id)

    def find(self, client_id: str, identifier: str) -> SimulatedSession | None:
        """A merchant's session by invoice number or by the Request-Id that created it."""
        with self.lock:
            for session in reversed(list(self.sessions.values())):
                if session.client_id == client_id and identifier in (session.invoice_number, session.request_id):
                    return session
        return None

    def new_notification(self, **values: Any) -> SimulatedNotification:
        with self.lock:
            notification = SimulatedNotification(id=len(self.notifications) + 1, **values)
            self.notifications.append(notification)
            return notification

    def begin_delivery(self) -> None:
        with self.lock:
            self.in_flight += 1

    def end_delivery(self) -> None:
        with self.lock:
            self.in_flight -= 1
            self.idle.notify_all()

    def attempted(self) -> None:
        """Wake whoever waits for a delivery attempt (see ``wait_for_attempts``)."""
        with self.lock:
            self.idle.notify_all()

    def wait_for_attempts(self, notifications: list[SimulatedNotification], timeout: float = 10.0) -> bool:
        """Wait until each of ``notifications`` was tried once (or dropped); False on timeout."""
        with self.lock:
            return self.idle.wait_for(lambda: all(n.attempts or n.finished for n in notifications), timeout=timeout)

    def wait_until_idle(self, timeout: float = 10.0) -> bool:
        """Wait for every background notification delivery to finish; False on timeout.

        A shop served by this process (a live test server) is waited for too: it runs its
        signal receivers after it has answered the notification.
        """
        from django_doku_checkout.services import after_response

        give_up = time.monotonic() + timeout
        with self.lock:
            if not self.idle.wait_for(lambda: self.in_flight == 0, timeout=timeout):
                return False
        return after_response.wait_until_done(max(0.0, give_up - time.monotonic()))


STORE = Store()


def new_token() -> str:
    return uuid.uuid4().hex + timezone.now().strftime("%Y%m%d%H%M%S")


def expiry(minutes: int) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)
