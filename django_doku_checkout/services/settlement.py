"""Settlement: what DOKU's word on a payment attempt (a notification or a status answer) does to its order."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderStatus
from django_doku_checkout.services import states
from django_doku_checkout.services.link_reads import current_link, newest_link
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.refund_reports import apply_doku_refund
from django_doku_checkout.services.refunds import refunded_total
from django_doku_checkout.services.unit_of_work import Writes
from django_doku_checkout.text import storable


@dataclass(frozen=True)
class PaymentResult:
    """What DOKU says happened to one payment attempt (from a notification or a status check)."""

    invoice_number: str
    transaction_status: str
    amount: int | None
    currency: str | None = None
    channel: str = ""
    order_status: str = ""
    #: ``PAYMENT``/``SALE``, ``AUTHORIZE`` (a card held, not yet taken), ``VOID``, ``FULL_REFUND`` ...
    transaction_type: str = ""
    #: ``refund.amount`` of a ``REFUNDED`` answer, in whole rupiah.
    refund_amount: int | None = None
    #: DOKU's id of the original payment request; a card refund must name it.
    original_request_id: str = ""
    #: ``refund.approval_code`` of a ``REFUNDED``/``VOIDED`` answer: which refund DOKU means.
    refund_reference: str = ""


#: A string amount DOKU sends: ASCII digits, with an optional fraction of zeros ("120000.00").
_AMOUNT_TEXT = re.compile(r"[0-9]{1,15}(?:\.0+)?")


def _whole_amount(value: object) -> int | None:
    """Whole rupiah from exactly the forms DOKU sends: 120000, 120000.0 or "120000"/"120000.00".

    Anything else is None, and a SUCCESS without a readable amount is flagged, never paid:
    ``"85000.000000000001"``, ``8.5e4``, ``"85_000"``, ``" 85000 "`` or non-ASCII digits.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal):  # payloads.loads reads JSON numbers with a point or exponent so
        value = str(value)  # the literal's own form: '8.5E+4' is refused below
    elif isinstance(value, float):
        return int(value) if value.is_integer() and 0 <= value < 1e15 else None
    if isinstance(value, str) and _AMOUNT_TEXT.fullmatch(value):
        return int(value.split(".")[0])
    return None


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def parse_payment_result(data: object) -> PaymentResult | None:
    """The fields this app relies on from a notification or status body; None when missing."""
    if not isinstance(data, dict):
        return None
    order = _section(data, "order")
    transaction_data = _section(data, "transaction")
    channel = _section(data, "channel")
    invoice = order.get("invoice_number")
    status = transaction_data.get("status")
    if not isinstance(invoice, str) or not invoice or not isinstance(status, str) or not status:
        return None
    currency = order.get("currency")
    return PaymentResult(
        invoice_number=storable(invoice),
        # Exactly as DOKU spells it: "ſuccess".upper() would be "SUCCESS".
        transaction_status=storable(status, 32),
        amount=_whole_amount(order.get("amount")),
        # Absent is None; anything present that is not a string can never match the order's.
        currency=None if currency is None else storable(currency if isinstance(currency, str) else repr(currency), 16),
        channel=storable(channel.get("id") or "", 64),
        order_status=storable(order.get("status") or "", 32),
        transaction_type=storable(transaction_data.get("type"), 32),
        refund_amount=_whole_amount(_section(data, "refund").get("amount")),
        refund_reference=storable(_section(data, "refund").get("approval_code"), 128),
        original_request_id=storable(transaction_data.get("original_request_id"), 128),
    )


def find_link(invoice_number: str) -> CheckoutSession | None:
    """The link DOKU means by an invoice number (each attempt has its own)."""
    return CheckoutSession.objects.select_related("order").filter(invoice_number=invoice_number).first()


def apply_payment_result(
    link: CheckoutSession,
    result: PaymentResult,
    *,
    source: str,
    notification: Notification | None = None,
) -> str:
    """Apply DOKU's word on one attempt to its order; returns a ``Notification.Outcome`` value.

    Runs in its own short transaction with the order row locked, so concurrent
    notifications, status checks and shopper returns serialize and only one of them
    changes the order.
    """

    def apply() -> str:
        order = locked_rows(Order.objects).get(pk=link.order_id)
        return apply_locked(order, current_link(order, pk=link.pk), result, source=source, notification=notification)

    return atomic_with_retry(apply)


#: DOKU's statuses that speak of a paid link's payment itself (not of an earlier attempt).
ABOUT_THE_PAYMENT = frozenset({"SUCCESS", "REFUNDED", "VOIDED"})


def apply_locked(
    order: Order,
    link: CheckoutSession,
    result: PaymentResult,
    *,
    source: str,
    notification: Notification | None,
    writes: Writes | None = None,
) -> str:
    """Apply ``result`` to a locked order and its freshly read link; the link is saved once.

    The order's change and the link are written together: when the caller flushes
    ``writes`` (with changes of its own), or before this returns.
    """
    own_writes = writes is None
    writes = Writes() if writes is None else writes
    # Each attempt on DOKU's page (a failed OVO, then a card) has its own channel and, for cards,
    # its own Request-Id, the one a card refund must name. The latest attempt counts until the
    # link is paid; then the payment that paid it stays, and only news of that payment (DOKU
    # refunding or voiding it) is recorded on the link: a late FAILED of an earlier attempt,
    # retried by DOKU after the SUCCESS, is kept in the notification log only.
    paid = link.status == CheckoutSession.Status.PAID
    if not paid or result.transaction_status in ABOUT_THE_PAYMENT:
        link.last_transaction_status = result.transaction_status
    if result.channel and not (paid and link.payment_channel):
        link.payment_channel = result.channel
    if result.original_request_id and not paid:
        link.original_request_id = result.original_request_id
    outcome = _settle(order, link, result, source=source, notification=notification, writes=writes)
    writes.save(link, ["status", "last_transaction_status", "payment_channel", "original_request_id", "updated_at"])
    if own_writes:
        writes.flush()
    return outcome


def _settle(
    order: Order,
    link: CheckoutSession,
    result: PaymentResult,
    *,
    source: str,
    notification: Notification | None,
    writes: Writes,
) -> str:
    """Decide what ``result`` means for the order: change its status, flag it, or only record it.

    Changes ``link.status`` in memory; the caller saves the link.
    """
    status = result.transaction_status
    if status == "SUCCESS":
        return _succeeded(order, link, result, source=source, notification=notification, writes=writes)
    if status == "EXPIRED" or (status == "PENDING" and result.order_status == "ORDER_EXPIRED"):
        return _expired(order, link, source=source, notification=notification, writes=writes)
    if status in ("REFUNDED", "VOIDED"):
        return _refunded(order, link, result, source=source, notification=notification)
    if result.order_status == "ORDER_RECOVERED" and status in ("PENDING", "FAILED", "TIMEOUT", "REDIRECT"):
        return _recovered(order, link, source=source, notification=notification, writes=writes)
    # FAILED: DOKU Checkout lets the shopper retry with another channel on the same
    # page, so a failed attempt is recorded on the link and the order stays payable.
    # PENDING (a card AUTHORIZE too: held, not taken), TIMEOUT, REDIRECT and unknown
    # statuses are recorded only.
    return Notification.Outcome.IGNORED


def _mismatch_reason(order: Order, link: CheckoutSession, result: PaymentResult) -> str:
    """Why a SUCCESS whose amount or currency is not the order's is flagged: what differs, from what.

    A payment already recorded is compared with what it should read now (paid less recorded
    refunds): DOKU reduces it by a refund, which may be one not recorded yet. The flag stays
    when that refund is recorded later: staff clear flags, and the reason names the likely cause.
    """
    reported = f"{result.currency or order.currency} {result.amount}"
    if link.status == CheckoutSession.Status.PAID:
        refunded = refunded_total(order)
        return (
            f"DOKU reported SUCCESS for {result.invoice_number}, already recorded as paid, with {reported}, but its "
            f"payment less recorded refunds is {order.currency} {order.amount - refunded} (paid {order.amount}, "
            f"refunded {refunded}): a refund made at DOKU and not recorded here, or a changed payment; "
            "compare with DOKU's back office."
        )
    if order.money_taken:
        return (
            f"Possible double payment: DOKU reported SUCCESS for {result.invoice_number} with {reported} after the "
            f"order was already paid ({order.currency} {order.amount}); this payment is not recorded."
        )
    return (
        f"DOKU reported SUCCESS for {result.invoice_number} with {reported}, but the order is "
        f"{order.currency} {order.amount}; not marked paid."
    )


def _succeeded(
    order: Order,
    link: CheckoutSession,
    result: PaymentResult,
    *,
    source: str,
    notification: Notification | None,
    writes: Writes,
) -> str:
    """DOKU took the money on ``link``: the order is paid, unless the amount, the currency or the order say otherwise."""
    outcome = Notification.Outcome
    # DOKU may leave the currency out for rupiah; an order in another currency must be confirmed.
    currency_ok = result.currency == order.currency or (result.currency is None and order.currency == "IDR")
    if currency_ok and link.status == CheckoutSession.Status.PAID and _less_refunds(order, result.amount):
        # After a refund DOKU reports the payment's amount reduced by it: the same payment.
        return outcome.DUPLICATE
    if result.amount != order.amount or not currency_ok:
        states.flag_for_review(order, _mismatch_reason(order, link, result), writes=writes)
        return outcome.FLAGGED
    if order.money_taken:
        if link.status == CheckoutSession.Status.PAID:
            return outcome.DUPLICATE
        link.status = CheckoutSession.Status.PAID
        states.flag_for_review(
            order,
            f"Possible double payment: {result.invoice_number} paid after the order was already paid.",
            writes=writes,
        )
        return outcome.FLAGGED
    if not states.can_transition(order.status, OrderStatus.PAID):
        states.flag_for_review(
            order,
            f"DOKU reported SUCCESS for {result.invoice_number} but the order is {order.status}.",
            writes=writes,
        )
        return outcome.FLAGGED
    link.status = CheckoutSession.Status.PAID
    order.paid_link = link  # what a refund gives back; saved with the transition
    states.transition(
        order,
        OrderStatus.PAID,
        source=source,
        notification=notification,
        note=f"{result.channel} SUCCESS",
        writes=writes,
    )
    return outcome.PROCESSED


def _expired(
    order: Order, link: CheckoutSession, *, source: str, notification: Notification | None, writes: Writes
) -> str:
    """``link`` ran out at DOKU: the order expires when it was the newest attempt."""
    outcome = Notification.Outcome
    if link.status == CheckoutSession.Status.OPEN:
        link.status = CheckoutSession.Status.EXPIRED
    # Only the newest attempt's expiry expires the order: an older link running out
    # says nothing about a newer one the shopper may still pay.
    newest = newest_link(order)
    if newest == link and states.can_transition(order.status, OrderStatus.EXPIRED):
        states.transition(order, OrderStatus.EXPIRED, source=source, notification=notification, writes=writes)
        return outcome.PROCESSED
    return outcome.IGNORED


def _less_refunds(order: Order, amount: int | None) -> bool:
    """Whether ``amount`` is the order's paid amount less its succeeded refunds (some refunded)."""
    refunded = refunded_total(order)
    return refunded > 0 and amount == order.amount - refunded


def _recovered(
    order: Order, link: CheckoutSession, *, source: str, notification: Notification | None, writes: Writes
) -> str:
    """DOKU's abandoned-cart recovery reopened the expired ``link``: it is payable again, and so is its order.

    Only the expired order's current attempt reopens (its newest link, expired, not
    withdrawn): a withdrawn link stays withdrawn, and an older link or one of an order
    paid, cancelled or refunded meanwhile reopens nothing (a payment on it is still found
    and flagged). The reopened link stays open until its ``recoverable_until``.
    """
    if (
        order.status != OrderStatus.EXPIRED
        or link.status != CheckoutSession.Status.EXPIRED
        or newest_link(order) != link
        or not states.can_transition(order.status, OrderStatus.PENDING)
    ):
        return Notification.Outcome.IGNORED
    link.status = CheckoutSession.Status.OPEN
    states.transition(
        order,
        OrderStatus.PENDING,
        source=source,
        notification=notification,
        note="DOKU recovered the expired order (ORDER_RECOVERED).",
        writes=writes,
    )
    return Notification.Outcome.PROCESSED


def _refunded(
    order: Order, link: CheckoutSession, result: PaymentResult, *, source: str, notification: Notification | None
) -> str:
    """DOKU refunded or voided one attempt: see :func:`.refund_reports.apply_doku_refund`."""
    return apply_doku_refund(
        order,
        link,
        status=result.transaction_status,
        refund_type=result.transaction_type,
        amount=result.refund_amount,
        reference=result.refund_reference,
        source=source,
        notification=notification,
    )
