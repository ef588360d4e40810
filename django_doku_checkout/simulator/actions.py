"""What a shopper can do on the hosted page, as functions: used by the page and by tests."""

from __future__ import annotations

from django.utils import timezone

from django_doku_checkout.simulator import notifier
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import SimulatedNotification, SimulatedSession

#: What each action makes of the session: DOKU's transaction status.
_STATUS = {"pay": "SUCCESS", "fail": "FAILED", "authorize": "PENDING"}


def settle(session: SimulatedSession, action: str, method: str = "") -> list[SimulatedNotification]:
    """Pay, fail, authorize (cards) or expire ``session``; all but expire send a signed notification.

    ``authorize`` holds a card payment without taking it, as DOKU reports it: ``PENDING``
    with ``transaction.type`` ``AUTHORIZE``.
    """
    if action == "expire":
        session.status = "EXPIRED"
        return []
    if action not in _STATUS:
        raise ValueError(f"unknown action {action!r}: use pay, fail, authorize or expire")
    session.channel = method or session.channel or "VIRTUAL_ACCOUNT_BCA"
    if action == "authorize" and session.channel != "CREDIT_CARD":
        raise ValueError("only a card payment can be authorized")
    session.transaction_date = timezone.now()
    session.status = _STATUS[action]
    session.transaction_type = "AUTHORIZE" if action == "authorize" else "SALE"
    merchant = merchants().get(session.client_id)
    return notifier.send(session, merchant, session.status) if merchant else []
