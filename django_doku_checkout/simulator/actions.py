"""What shoppers do on the hosted page and staff in DOKU's back office, as functions for the views and tests."""

from __future__ import annotations

import secrets

from django.utils import timezone

from django_doku_checkout.simulator import notifier
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import STORE, SimulatedNotification, SimulatedRefund, SimulatedSession

#: What each action makes of the session: DOKU's transaction status.
_STATUS = {"pay": "SUCCESS", "fail": "FAILED", "authorize": "PENDING"}


def settle(session: SimulatedSession, action: str, method: str = "") -> list[SimulatedNotification]:
    """Pay, fail, authorize (cards) or expire ``session``; each sends DOKU's signed notification.

    ``expire`` brings the due date to now: DOKU's expired notification is sent, and with
    abandoned-cart recovery the order stays payable for its recovery window from then.

    ``authorize`` holds a card payment without taking it, as DOKU reports it: ``PENDING``
    with ``transaction.type`` ``AUTHORIZE``.
    """
    if session.cancelled:
        raise ValueError(f"{session.invoice_number} was cancelled at DOKU: it can no longer be paid")
    if action == "expire":
        session.status = "EXPIRED"
        session.expires_at = min(session.expires_at, timezone.now())
    elif action in _STATUS:
        session.channel = method or session.channel or "VIRTUAL_ACCOUNT_BCA"
        if action == "authorize" and session.channel != "CREDIT_CARD":
            raise ValueError("only a card payment can be authorized")
        session.transaction_date = timezone.now()
        session.status = _STATUS[action]
        session.transaction_type = "AUTHORIZE" if action == "authorize" else "SALE"
    else:
        raise ValueError(f"unknown action {action!r}: use pay, fail, authorize or expire")
    merchant = merchants().get(session.client_id)
    return notifier.send(session, merchant, session.status) if merchant else []


class RefundRefused(ValueError):
    """DOKU would refuse this refund: the session is not paid, not settled for a partial refund, or the
    amount is more than is left."""


def mark_settled(session: SimulatedSession) -> None:
    """DOKU settles a paid session with the merchant: from now on partial refunds are possible, voids are not."""
    with STORE.lock:
        if session.status != "SUCCESS":
            raise ValueError(f"{session.invoice_number} is not paid: only a payment is settled")
        session.settled = True


def record_refund(session: SimulatedSession, amount: int | None = None, *, request_id: str = "") -> SimulatedRefund:
    """Refund ``amount`` of a paid session (None: what is left), as DOKU's refund API does; returns the refund.

    Before settlement DOKU only voids the whole amount (``refund.amount`` must equal
    ``order.amount``): the refund is a ``VOID``. After settlement partial and repeated refunds
    are allowed up to the paid amount (``PARTIAL_REFUND``, or ``FULL_REFUND`` for all of it at
    once). Anything else is refused.
    """
    with STORE.lock:
        left = session.amount - session.refunded
        wanted = left if amount is None else amount
        if session.status != "SUCCESS":
            raise RefundRefused(f"order {session.invoice_number} is not paid")
        if isinstance(wanted, bool) or not isinstance(wanted, int) or not 0 < wanted <= left:
            raise RefundRefused(f"refund.amount must be from 1 to {left}, the amount not refunded yet")
        if not session.settled and wanted != session.amount:
            raise RefundRefused(
                f"the transaction is not settled yet: it can only be voided, with refund.amount equal to "
                f"order.amount ({session.amount})"
            )
        if not session.settled:
            kind = "VOID"
        else:
            kind = "FULL_REFUND" if not session.refunds and wanted == session.amount else "PARTIAL_REFUND"
        refund = SimulatedRefund(
            amount=wanted,
            type=kind,
            approval_code=secrets.token_hex(3).upper(),
            at=timezone.now(),
            request_id=request_id,
        )
        session.refunds.append(refund)
        return refund


def notify_refund(session: SimulatedSession, refund: SimulatedRefund) -> list[SimulatedNotification]:
    """DOKU's notification of a refund or void it made: ``REFUNDED``, or ``VOIDED`` for a void."""
    merchant = merchants().get(session.client_id)
    status = "VOIDED" if refund.type == "VOID" else "REFUNDED"
    return notifier.send(session, merchant, status, refund=refund) if merchant else []


def refund_in_back_office(
    session: SimulatedSession, amount: int | None = None, *, void: bool = False
) -> list[SimulatedNotification]:
    """Staff refund (or void) a paid session in DOKU's back office: DOKU notifies ``REFUNDED`` (``VOIDED``).

    The same rules as the API apply: before settlement only a void of the whole amount (what
    ``void`` asks for), after it partial refunds.
    """
    if void and session.settled:
        raise RefundRefused(f"order {session.invoice_number} is settled: it can be refunded, no longer voided")
    return notify_refund(session, record_refund(session, None if void else amount))
