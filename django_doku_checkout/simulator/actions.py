"""What a shopper can do on the hosted page, as functions: used by the page and by tests."""

from __future__ import annotations

from django.utils import timezone

from django_doku_checkout.simulator import notifier
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import SimulatedNotification, SimulatedSession


def settle(session: SimulatedSession, action: str, method: str = "") -> list[SimulatedNotification]:
    """Pay, fail or expire ``session``; pay and fail send the channel's signed notification."""
    if action == "expire":
        session.status = "EXPIRED"
        return []
    if action not in {"pay", "fail"}:
        raise ValueError(f"unknown action {action!r}: use pay, fail or expire")
    session.channel = method or session.channel or "VIRTUAL_ACCOUNT_BCA"
    session.transaction_date = timezone.now()
    session.status = "SUCCESS" if action == "pay" else "FAILED"
    merchant = merchants().get(session.client_id)
    return notifier.send(session, merchant, session.status) if merchant else []
