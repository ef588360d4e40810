"""Signals sent once per real order transition, after the transaction commits."""

from __future__ import annotations

from django.dispatch import Signal

#: Any status change. Arguments: ``order``, ``old_status``, ``new_status``, ``source``.
order_status_changed = Signal()

#: The order became ``paid``. Arguments: ``order``, ``source``.
payment_succeeded = Signal()

#: DOKU reported a failed payment attempt; the order stays payable. Arguments: ``order``, ``source``.
payment_failed = Signal()

#: The order became ``expired``. Arguments: ``order``, ``source``.
payment_expired = Signal()

#: A notification or status check disagrees with the order (amount, currency, double payment).
#: Arguments: ``order``, ``reason``.
payment_needs_review = Signal()

#: A refund succeeded: DOKU's card refund API answered SUCCESS, staff recorded one made in
#: DOKU's back office, or DOKU reported one. Sent once per refund, partial ones included.
#: Arguments: ``order``, ``refund`` (the :class:`~django_doku_checkout.models.Refund`, read
#: when the receiver is called), ``source``.
payment_refunded = Signal()
