"""The order state machine: the one place that knows which status changes are legal.

Every change is written to ``OrderEvent`` and what it announces is recorded with it, in
the same transaction (see :mod:`.deliveries`): receivers are called after the commit, at
least once each, and never for a change that was rolled back. Flagging an order for
review (:func:`flag_for_review`) is no status change: it is recorded and announced by
:mod:`.deliveries`, which flags an order itself when a receiver has failed for good.
"""

from __future__ import annotations

from django.utils import timezone

from django_doku_checkout.exceptions import DokuError
from django_doku_checkout.models import Actor, Notification, Order, OrderEvent, OrderStatus, saved_user
from django_doku_checkout.services.deliveries import announce, flag_for_review
from django_doku_checkout.services.unit_of_work import Writes

__all__ = [
    "TRANSITIONS",
    "UNPAYABLE",
    "IllegalTransition",
    "can_transition",
    "flag_for_review",
    "transition",
]

S = OrderStatus

TRANSITIONS: dict[str, frozenset[str]] = {
    S.CREATED: frozenset({S.PENDING, S.PAID, S.FAILED, S.EXPIRED, S.CANCELLED}),
    S.PENDING: frozenset({S.PAID, S.FAILED, S.EXPIRED, S.CANCELLED}),
    S.FAILED: frozenset({S.PENDING, S.PAID, S.EXPIRED, S.CANCELLED}),
    # A shopper may be sent a new link after expiry, and a late payment is still money taken.
    S.EXPIRED: frozenset({S.PENDING, S.PAID, S.CANCELLED}),
    # Refunds: partial ones first, until the refunded total is what was paid.
    S.PAID: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.REFUNDED}),
    S.CANCELLED: frozenset(),
    S.REFUNDED: frozenset(),
}

#: Orders in these states never get a new payment link.
UNPAYABLE = frozenset({S.PAID, S.CANCELLED, S.PARTIALLY_REFUNDED, S.REFUNDED})

#: The signal sent, besides ``order_status_changed``, when an order enters these states.
_SPECIFIC_SIGNALS: dict[str, str] = {
    S.PAID: "payment_succeeded",
    S.EXPIRED: "payment_expired",
    S.FAILED: "payment_failed",
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
    actor: Actor = None,
    notification: Notification | None = None,
    note: str = "",
    writes: Writes | None = None,
) -> OrderEvent:
    """Move a row-locked ``order`` to ``new_status`` inside the caller's transaction.

    Raises :class:`IllegalTransition` for a change the machine forbids (including a
    change to the same status), so callers decide explicitly what to do instead.
    With ``writes``, the order, its event and its deliveries are written when the caller
    flushes them, together with the caller's other changes (the event has no primary key
    until then).
    """
    old_status = order.status
    if not can_transition(old_status, new_status):
        raise IllegalTransition(f"Order {order.invoice_number} cannot go from {old_status!r} to {new_status!r}.")
    order.status = new_status
    update_fields = ["status", "updated_at"]
    if new_status == S.PAID:
        order.paid_at = timezone.now()
        update_fields += ["paid_at", "paid_link"]
    event = OrderEvent(
        order=order,
        old_status=old_status,
        new_status=new_status,
        source=source,
        actor=saved_user(actor),
        notification=notification,
        note=note,
    )
    announcements = [("order_status_changed", {"old_status": old_status, "new_status": new_status, "source": source})]
    if new_status in _SPECIFIC_SIGNALS:
        announcements.append((_SPECIFIC_SIGNALS[new_status], {"source": source}))
    if writes is None:
        order.save(update_fields=update_fields)
        event.save(force_insert=True)
        announce(order, announcements, event=event)
    else:
        writes.save(order, update_fields)
        writes.insert(event)
        writes.then(lambda: announce(order, announcements, event=event))
    return event
