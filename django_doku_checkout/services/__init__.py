"""The payment domain. Views, admin actions and commands call these functions; they hold no DOKU logic.

One module per concern:

- :mod:`.orders`: creating orders from a cart, cancelling them;
- :mod:`.cancellations`: cancelling withdrawn links at DOKU (the ``CANCEL_AT_DOKU`` setting);
- :mod:`.links`: payment links (DOKU Checkout, card payment pages), claimed, sent and recorded
  in short transactions, never holding a lock while DOKU is asked;
- :mod:`.settlement`: what DOKU's word on a payment does to its order;
- :mod:`.notifications`: DOKU's HTTP notifications;
- :mod:`.status`: DOKU's Status API;
- :mod:`.refunds`: refunds, full and partial: card refunds through DOKU, the others recorded by hand;
- :mod:`.sharing`: handing payment links to customers (e-mail, QR code, WhatsApp), recorded;
- :mod:`.deliveries`: the app's signals, delivered at least once to each receiver;
- :mod:`.locking`: the order's row lock that serialises all of the above;
- :mod:`.statements`: on PostgreSQL, the hottest of these changes as one statement each.

Every public name is importable from here: ``from django_doku_checkout import services;
services.create_payment_link(order)``.
"""

from __future__ import annotations

from django_doku_checkout.services.cancellations import (
    LinkCancellation,
    cancel_links_at_doku,
    links_payable_at_doku,
    open_links,
)
from django_doku_checkout.services.claims import claim_ttl
from django_doku_checkout.services.deliveries import DeliverySummary, deliver_due
from django_doku_checkout.services.links import (
    REUSE_MARGIN,
    build_checkout_data,
    create_card_payment_page,
    create_payment_link,
    live_session,
    newest_link,
    payment_url_allowed,
    resolve_stale_claims,
)
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.notifications import (
    STORED_HEADERS,
    NotificationResponse,
    handle_notification,
    reprocess_notification,
    store_notification,
    verify_notification,
)
from django_doku_checkout.services.orders import (
    OrderNotPayable,
    cancel_order,
    create_order,
    new_invoice_number,
    withdraw_payment_links,
)
from django_doku_checkout.services.refunds import (
    RefundedMeanwhile,
    RefundNotAllowed,
    RefundNotSupported,
    paying_link,
    record_manual_refund,
    refund_payment,
    refundable_amount,
    refundable_by_api,
    refunded_total,
    resend_refund,
    resend_stale_refunds,
)
from django_doku_checkout.services.settlement import (
    PaymentResult,
    apply_payment_result,
    find_session,
    parse_payment_result,
    storable,
)
from django_doku_checkout.services.sharing import (
    LinkNotShared,
    email_payment_link,
    qr_code_svg,
    record_delivery,
    shareable_link,
    whatsapp_url,
)
from django_doku_checkout.services.status import StatusCheck, check_status, fetch_status

__all__ = [
    "REUSE_MARGIN",
    "STORED_HEADERS",
    "DeliverySummary",
    "LinkCancellation",
    "LinkNotShared",
    "NotificationResponse",
    "OrderNotPayable",
    "PaymentResult",
    "RefundNotAllowed",
    "RefundNotSupported",
    "RefundedMeanwhile",
    "StatusCheck",
    "apply_payment_result",
    "build_checkout_data",
    "cancel_links_at_doku",
    "cancel_order",
    "check_status",
    "claim_ttl",
    "create_card_payment_page",
    "create_order",
    "create_payment_link",
    "deliver_due",
    "email_payment_link",
    "fetch_status",
    "find_session",
    "handle_notification",
    "links_payable_at_doku",
    "live_session",
    "locked_rows",
    "new_invoice_number",
    "newest_link",
    "open_links",
    "parse_payment_result",
    "qr_code_svg",
    "record_delivery",
    "payment_url_allowed",
    "paying_link",
    "record_manual_refund",
    "refund_payment",
    "refundable_amount",
    "refundable_by_api",
    "refunded_total",
    "reprocess_notification",
    "resend_refund",
    "resend_stale_refunds",
    "resolve_stale_claims",
    "shareable_link",
    "storable",
    "store_notification",
    "verify_notification",
    "whatsapp_url",
    "withdraw_payment_links",
]
