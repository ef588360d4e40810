"""The app's tables, one module per concern; every model and helper is importable from here.

- :mod:`.orders`: ``Order``, ``LineItem``, ``OrderStatus``, and who made a change (``Actor``, ``saved_user``);
- :mod:`.links`: ``CheckoutSession``, a payment link (one attempt at paying);
- :mod:`.notifications`: ``Notification``, DOKU's notifications as received;
- :mod:`.events`: ``OrderEvent`` (an order's status changes) and ``Delivery`` (the signals each announces);
- :mod:`.refunds`: ``Refund``;
- :mod:`.runs`: ``ReconciliationRun``, the record of reconciliation's runs;
- :mod:`.dashboard`: ``PaymentsDashboard``, the admin index's entry for the payments dashboard (no table).
"""

from __future__ import annotations

from django_doku_checkout.models.dashboard import PaymentsDashboard
from django_doku_checkout.models.events import Delivery, OrderEvent
from django_doku_checkout.models.links import CheckoutSession
from django_doku_checkout.models.notifications import Notification
from django_doku_checkout.models.orders import MONEY_TAKEN, Actor, LineItem, Order, OrderStatus, saved_user
from django_doku_checkout.models.refunds import Refund
from django_doku_checkout.models.runs import ReconciliationRun

__all__ = [
    "Actor",
    "saved_user",
    "OrderStatus",
    "MONEY_TAKEN",
    "Order",
    "LineItem",
    "CheckoutSession",
    "Notification",
    "OrderEvent",
    "Delivery",
    "Refund",
    "ReconciliationRun",
    "PaymentsDashboard",
]
