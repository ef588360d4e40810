"""The order state machine: the one place that knows which status changes are legal.

Every change is written to ``OrderEvent`` and announced once, after the surrounding
transaction commits, so receivers never see a change that was rolled back.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from django_doku_checkout import signals
from django_doku_checkout.exceptions import DokuError
from django_doku_checkout.models import Notification, Order, OrderEvent, OrderStatus

S = OrderStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PENDING, S.PAID, S.FAILED, S.EXPIRED, S.CANCELLED}),
    S.PENDING: frozenset({S.PAID, S.FAILED, S.EXPIRED, S.CANCELLED}),
    S.FAILED: frozenset({S.PENDING, S.PAID, S.EXPIRED, S.CANCELLED}),
    # A shopper may be sent a new link after expiry, and a late payment is still money taken.
    S.EXPIRED: frozenset({S.PENDING, S.PAID, S.CANCELLED}),
    S.PAID: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

#: Orders in these states never get a new payment link.
UNPAYABLE = frozenset({S.PAID, S.CANCELLED, S.REFUNDED})

_SPECIFIC_SIGNALS: dict[str, Signal] = {
    S.PAID: signals.payment_succeeded,
    S.EXPIRED: signals.payment_expired,
    S.FAILED: signals.payment_failed,
}


class IllegalTransition(DokuError):
    """A status change the state machine does not allow, such as ``paid`` -> ``pending``."""


def can_transition(old: str, new: str) -> bool:
    return new in TRANSITIONS.get(old, frozenset())


def transition(
    order: Order,
    new_status: str,
    *,
    source: str,
    actor: Any = None,
    notification: Notification | None = None,
    note: str = "",
) -> OrderEvent:
    """Move a row-locked ``order`` to ``new_status`` inside the caller's transaction.

    Raises :class:`IllegalTransition` for a change the machine forbids (including a
    change to the same status), so callers decide explicitly what to do instead.
    """
    old_status = order.status
    if not can_transition(old_status, new_status):
        raise IllegalTransition(f"Order {order.invoice_number} cannot go from {old_status!r} to {new_status!r}.")
    order.status = new_status
    update_fields = ["status", "updated_at"]
    if new_status == S.PAID:
        order.paid_at = timezone.now()
        update_fields.append("paid_at")
    order.save(update_fields=update_fields)
    event = OrderEvent.objects.create(
        order=order,
        old_status=old_status,
        new_status=new_status,
        source=source,
        actor=actor if getattr(actor, "pk", None) else None,
        notification=notification,
        note=note,
    )

    def announce() -> None:
        signals.order_status_changed.send(
            sender=Order, order=order, old_status=old_status, new_status=new_status, source=source
        )
        specific = _SPECIFIC_SIGNALS.get(new_status)
        if specific is not None:
            specific.send(sender=Order, order=order, source=source)

    transaction.on_commit(announce)
    return event
