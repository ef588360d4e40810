"""The payment domain: the contract a shop calls, and behind it the modules the edges (views, admin, commands) call.

Every name in ``__all__`` is public and importable from here: ``from django_doku_checkout
import services; services.create_payment_link(order)``. The modules behind them, one per
concern, are internal and may change between releases:

- :mod:`.orders`: creating orders from a cart, cancelling them;
- :mod:`.links`: payment links (DOKU Checkout, card payment pages), claimed, sent and recorded
  in short transactions, never holding a lock while DOKU is asked; behind it :mod:`.link_requests`
  (the bodies sent), :mod:`.invoice_numbers` (one per attempt), :mod:`.payment_urls` (the URL
  policy), :mod:`.link_reads` (the live and newest links) and :mod:`.link_claims` (a link's claim,
  its call and the record of DOKU's answer);
- :mod:`.shopper`: what the pay button, the return page and the JSON endpoints decide;
- :mod:`.cancellations`: cancelling withdrawn links at DOKU (the ``CANCEL_AT_DOKU`` setting);
- :mod:`.settlement`: what DOKU's word on a payment does to its order;
- :mod:`.notifications`: DOKU's HTTP notifications;
- :mod:`.status`: DOKU's Status API;
- :mod:`.refunds`: refunds, full and partial: card refunds through DOKU, the others recorded by hand
  (:mod:`.manual_refunds`), and DOKU's own word on them (:mod:`.refund_reports`);
- :mod:`.sharing`: handing payment links to customers (e-mail, QR code, WhatsApp), recorded;
- :mod:`.states`: the order state machine, the one place that knows the legal status changes;
- :mod:`.deliveries`: the app's signals, delivered at least once to each receiver;
- :mod:`.after_response`: work a request commits, done once its response has been sent;
- :mod:`.locking`: the order's row lock that serialises all of the above;
- :mod:`.unit_of_work`: every change of a locked section, written together (one statement on PostgreSQL);
- :mod:`.retention`: pruning old rows (``doku_checkout_prune``).
"""

from __future__ import annotations

from django_doku_checkout.services.deliveries import DeliverySummary, deliver_due
from django_doku_checkout.services.link_reads import live_link
from django_doku_checkout.services.links import create_card_payment_page, create_payment_link
from django_doku_checkout.services.manual_refunds import record_manual_refund
from django_doku_checkout.services.notifications import NotificationResponse, handle_notification
from django_doku_checkout.services.orders import OrderNotPayable, cancel_order, create_order
from django_doku_checkout.services.payment_urls import payment_url_allowed
from django_doku_checkout.services.refunds import (
    RefundedMeanwhile,
    RefundNotAllowed,
    RefundNotSupported,
    refund_payment,
    refundable_amount,
    refunded_total,
    resend_refund,
)
from django_doku_checkout.services.sharing import LinkNotShared, email_payment_link
from django_doku_checkout.services.status import StatusCheck, check_status

__all__ = [
    # Orders
    "create_order",
    "cancel_order",
    "OrderNotPayable",
    # Payment links
    "create_payment_link",
    "create_card_payment_page",
    "live_link",
    "payment_url_allowed",
    "email_payment_link",
    "LinkNotShared",
    # DOKU's word on a payment
    "handle_notification",
    "NotificationResponse",
    "check_status",
    "StatusCheck",
    # Refunds
    "refund_payment",
    "record_manual_refund",
    "resend_refund",
    "refundable_amount",
    "refunded_total",
    "RefundNotAllowed",
    "RefundNotSupported",
    "RefundedMeanwhile",
    # Signals
    "deliver_due",
    "DeliverySummary",
]
