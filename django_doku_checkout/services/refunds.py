"""Refunds: giving a paid order's money back, in full or in parts, and keeping the books right.

Three ways a refund happens, one :class:`~django_doku_checkout.models.Refund` row each:

- **Card payments** are refunded through DOKU's API (``POST /cancellation/credit-card/refund``)
  by :func:`refund_payment`, in three short steps like payment links: *claim* a
  ``requested`` refund with the order's row locked (the claim reserves its amount, so two
  staff members refunding at once can never give back more than was paid), *call* DOKU with
  nothing locked, *record* DOKU's answer with the order locked again.
- **Other channels** have no refund API a Checkout merchant can call: staff refund them in
  DOKU's back office and record it with :func:`record_manual_refund`.
- **DOKU's own word** (a ``REFUNDED`` or ``VOIDED`` notification or status answer for the
  attempt that paid) confirms a requested refund or records one: :func:`apply_doku_refund`.

Every succeeded refund moves the order to ``partially_refunded``, or to ``refunded`` once
the refunded total is what was paid, and announces ``payment_refunded`` once, after the
commit, through :mod:`.deliveries`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from django.db import IntegrityError
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from django_doku_checkout import payloads, states
from django_doku_checkout.client import DokuClient, DokuResponse
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderEvent, OrderStatus, Refund
from django_doku_checkout.payment_methods import is_card
from django_doku_checkout.redaction import redact
from django_doku_checkout.services.deliveries import announce
from django_doku_checkout.services.locking import locked_rows

logger = logging.getLogger(__name__)

#: Orders a refund can be made for: money taken and not all given back yet.
REFUNDABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})
#: Refunds that count against what is left: done, or being asked for.
RESERVING = (Refund.Status.REQUESTED, Refund.Status.SUCCEEDED)


class RefundNotAllowed(DokuError):
    """The refund was refused before anything was sent: the order is not paid, or the amount is too high."""


class RefundNotSupported(RefundNotAllowed):
    """The payment's channel has no refund API for Checkout merchants: refund it in DOKU's back office."""


# --- reading ---------------------------------------------------------------------------------------


def paying_link(order: Order) -> CheckoutSession | None:
    """The payment link whose payment paid the order: the one a refund gives back."""
    if order.paid_link_id is not None:
        return CheckoutSession.objects.get(pk=order.paid_link_id)
    # Orders paid before the app remembered the paying link: their one paid link.
    return order.checkout_sessions.filter(status=CheckoutSession.Status.PAID).order_by("created_at", "id").first()


def refunded_total(order: Order, *, statuses: tuple[str, ...] = (Refund.Status.SUCCEEDED,)) -> int:
    """The total of the order's refunds in ``statuses`` (succeeded ones by default), in whole rupiah."""
    total = order.refunds.filter(status__in=statuses).aggregate(total=Sum("amount"))["total"]
    return int(total or 0)


def refundable_amount(order: Order) -> int:
    """What may still be refunded: the paid amount minus refunds succeeded or being asked for."""
    if order.status not in REFUNDABLE:
        return 0
    return max(order.amount - refunded_total(order, statuses=RESERVING), 0)


def refundable_by_api(link: CheckoutSession | None) -> bool:
    """Whether DOKU's card refund API can refund this link's payment (a card payment)."""
    return link is not None and (link.kind == CheckoutSession.Kind.CARD_PAGE or is_card(link.payment_channel))


# --- succeeding --------------------------------------------------------------------------------------


def _succeed(order: Order, refund: Refund, *, source: str, notification: Notification | None = None) -> None:
    """Mark ``refund`` succeeded for a locked ``order``, move the order's status and announce it once."""
    refund.status = Refund.Status.SUCCEEDED
    refund.completed_at = timezone.now()
    refund.request_payload = ""
    refund.save()
    total = refunded_total(order)
    new_status = OrderStatus.REFUNDED if total >= order.amount else OrderStatus.PARTIALLY_REFUNDED
    event = None
    if order.status != new_status:
        note = f"Refund of {format_rupiah(refund.amount, order.currency)} ({refund.get_method_display()})."
        event = states.transition(
            order, new_status, source=source, actor=refund.actor, notification=notification, note=note
        )
    # Stored by primary key (deliveries are JSON); receivers get the Refund itself.
    announce(order, [("payment_refunded", {"refund": refund.pk, "source": source})], event=event)


def _reserve(order: Order, amount: int | None) -> tuple[Order, CheckoutSession, int]:
    """Lock the order and check a refund of ``amount`` (None: all that is left); returns what to refund."""
    locked = locked_rows(Order.objects).get(pk=order.pk)
    if locked.status not in REFUNDABLE:
        raise RefundNotAllowed(
            gettext("Order %(invoice)s is %(status)s: only a paid order can be refunded.")
            % {"invoice": locked.invoice_number, "status": locked.get_status_display().lower()}
        )
    link = paying_link(locked)
    if link is None:
        raise RefundNotAllowed(
            gettext("Order %(invoice)s has no paid payment link to refund.") % {"invoice": locked.invoice_number}
        )
    left = locked.amount - refunded_total(locked, statuses=RESERVING)
    wanted = left if amount is None else amount
    if isinstance(wanted, bool) or not isinstance(wanted, int) or not 0 < wanted <= left:
        raise RefundNotAllowed(
            gettext(
                "A refund of %(amount)s is not possible for order %(invoice)s: it must be a whole amount "
                "from 1 to %(left)s (paid %(paid)s, refunded or being refunded %(refunded)s)."
            )
            % {
                "amount": wanted,
                "invoice": locked.invoice_number,
                "left": format_rupiah(max(left, 0), locked.currency),
                "paid": format_rupiah(locked.amount, locked.currency),
                "refunded": format_rupiah(locked.amount - left, locked.currency),
            }
        )
    return locked, link, wanted


def _source(actor: Any) -> str:
    return OrderEvent.Source.ADMIN if getattr(actor, "pk", None) else OrderEvent.Source.SYSTEM


# --- card refunds through DOKU's API: claim, call, record -------------------------------------------


def refund_payment(
    order: Order,
    amount: int | None = None,
    *,
    reason: str = "",
    actor: Any = None,
    client: DokuClient | None = None,
    key: str | None = None,
) -> Refund:
    """Refund ``amount`` (None: all that is left) of a paid card payment through DOKU; returns the refund.

    Partial and repeated refunds are allowed up to what was paid. No lock is held while DOKU
    is asked: a ``requested`` refund is claimed first (reserving its amount), then DOKU is
    asked, then its answer recorded. Raises :class:`RefundNotAllowed` before sending anything
    for an order that is not paid or an amount above what is left, :class:`RefundNotSupported`
    for a payment that is not by card (refund it in DOKU's back office, then
    :func:`record_manual_refund`), and :class:`DokuAPIError` when DOKU refuses (the refund is
    then ``failed``). When DOKU could not be reached, :class:`DokuTransportError` is raised and
    the refund stays ``requested``, its amount reserved: :func:`resend_refund` repeats the same
    request, which DOKU answers with its first answer if it already refunded.

    ``key`` (a staff form's idempotency key) makes the call idempotent: when a refund was
    already made with that key, it is returned as it stands (succeeded, pending or failed),
    marked ``reused``, and nothing is sent to DOKU. The key is looked up with the order locked, so two calls
    with one key at once make one refund; the key's unique constraint backs that up.
    """

    def claim() -> tuple[Refund, bool]:
        made = _made_with(order, key)
        if made is not None:
            return made, False
        locked, link, wanted = _reserve(order, amount)
        if not refundable_by_api(link):
            raise RefundNotSupported(
                gettext(
                    "Order %(invoice)s was paid with %(channel)s, which DOKU cannot refund through its API. "
                    "Refund it in DOKU's back office, then record that refund here."
                )
                % {"invoice": locked.invoice_number, "channel": link.payment_channel or gettext("an unknown channel")}
            )
        body = {
            "order": {"invoice_number": link.invoice_number},
            # DOKU's id of the payment; our Request-Id for the link when DOKU did not send it.
            "payment": {"original_request_id": link.original_request_id or link.request_id},
            "refund": {"amount": wanted},
        }
        refund = Refund.objects.create(
            order=locked,
            checkout_session=link,
            amount=wanted,
            reason=reason,
            method=Refund.Method.CARD_API,
            status=Refund.Status.REQUESTED,
            request_id=str(uuid4()),
            request_payload=payloads.encode_body(body).decode(),
            idempotency_key=key or None,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        return refund, True

    refund, claimed = _claim_once(claim, order, key)
    return _send(refund, client) if claimed else refund


def _made_with(order: Order, key: str | None) -> Refund | None:
    """Lock ``order``; the refund a staff form with ``key`` already made for it, if any."""
    if not key:
        return None
    locked = locked_rows(Order.objects).get(pk=order.pk)
    made = Refund.objects.filter(idempotency_key=key).first()
    if made is not None and made.order_id != locked.pk:
        raise RefundNotAllowed(gettext("This form was made for another order; nothing was refunded."))
    if made is not None:
        made.reused = True
    return made


def _claim_once(claim: Callable[[], tuple[Refund, bool]], order: Order, key: str | None) -> tuple[Refund, bool]:
    """Run ``claim`` in a transaction; a key taken meanwhile (the unique constraint) yields its refund."""
    try:
        return atomic_with_retry(claim)
    except IntegrityError:
        made = Refund.objects.filter(idempotency_key=key, order_id=order.pk).first() if key else None
        if made is None:
            raise
        made.reused = True
        return made, False


def resend_refund(refund: Refund, *, client: DokuClient | None = None) -> Refund:
    """Send a card refund still ``requested`` (DOKU was not reached) again, with its Request-Id and bytes."""
    refund = Refund.objects.get(pk=refund.pk)
    if refund.status != Refund.Status.REQUESTED or refund.method != Refund.Method.CARD_API:
        return refund
    return _send(refund, client)


def _send(refund: Refund, client: DokuClient | None) -> Refund:
    response, failure = None, None
    try:
        response = (client or DokuClient()).refund_card_payment(
            json.loads(refund.request_payload), request_id=refund.request_id
        )
    except DokuError as err:
        failure = err
    recorded, failure = atomic_with_retry(lambda: _record(refund, response, failure))
    if failure is not None:
        raise failure
    return recorded


def _record(
    refund: Refund, response: DokuResponse | None, failure: DokuError | None
) -> tuple[Refund, DokuError | None]:
    """Store DOKU's answer on a claimed refund, with its order locked."""
    order = locked_rows(Order.objects).get(pk=refund.order_id)
    current = Refund.objects.get(pk=refund.pk)
    if current.status != Refund.Status.REQUESTED:
        return current, None  # DOKU's notification confirmed it meanwhile, or another resend recorded it
    if response is not None:
        answer = response.data.get("refund")
        answer = answer if isinstance(answer, dict) else {}
        current.response_body = redact(response.data)
        current.refund_type = _text(answer.get("type"), 32)
        current.doku_reference = _text(answer.get("approval_code"), 128)
        if answer.get("status") == "SUCCESS":
            current.error_message = ""
            _succeed(order, current, source=_source(current.actor))
            return current, None
        message = _text(answer.get("message"), 500) or "DOKU did not answer refund.status SUCCESS"
        failure = DokuAPIError(
            status_code=response.status_code, messages=[message], request_id=response.request_id, body=response.data
        )
        current.status = Refund.Status.FAILED
    elif isinstance(failure, DokuAPIError) and failure.status_code < 500:
        current.status = Refund.Status.FAILED
        current.response_body = redact(failure.body) if isinstance(failure.body, dict) else {}
    # Otherwise DOKU was not reached or failed (5xx): the refund may have been made, so it
    # stays requested, its amount reserved, until it is resent or DOKU reports it.
    current.error_message = str(failure)
    if current.status == Refund.Status.FAILED:
        current.request_payload = ""
        current.completed_at = timezone.now()
    current.save()
    logger.warning("Refund %s of order %s: %s", current.pk, order.invoice_number, failure)
    return current, failure


def _text(value: object, max_length: int) -> str:
    return str(value)[:max_length] if isinstance(value, str | int) and not isinstance(value, bool) else ""


# --- refunds made in DOKU's back office ---------------------------------------------------------------


def record_manual_refund(
    order: Order,
    amount: int | None = None,
    *,
    reason: str = "",
    actor: Any = None,
    reference: str = "",
    key: str | None = None,
) -> Refund:
    """Record a refund staff made in DOKU's back office (channels without a refund API); returns it.

    Nothing is sent to DOKU. The same checks as :func:`refund_payment` apply, and the refund
    counts, moves the order and announces ``payment_refunded`` like any other. ``key`` works
    as for :func:`refund_payment`: a form sent twice records its refund once.
    """

    def record() -> tuple[Refund, bool]:
        made = _made_with(order, key)
        if made is not None:
            return made, False
        locked, link, wanted = _reserve(order, amount)
        refund = Refund.objects.create(
            order=locked,
            checkout_session=link,
            amount=wanted,
            reason=reason,
            method=Refund.Method.MANUAL,
            request_id=f"manual-{uuid4()}",
            doku_reference=reference[:128],
            idempotency_key=key or None,
            actor=actor if getattr(actor, "pk", None) else None,
        )
        _succeed(locked, refund, source=_source(actor))
        return refund, True

    refund, _recorded = _claim_once(record, order, key)
    order.refresh_from_db(fields=["status", "updated_at"])
    return refund


# --- DOKU's word: REFUNDED and VOIDED ------------------------------------------------------------------


def apply_doku_refund(
    order: Order,
    session: CheckoutSession,
    *,
    status: str,
    refund_type: str,
    amount: int | None,
    source: str,
    notification: Notification | None,
) -> str:
    """DOKU refunded or voided ``session``; record or confirm it for a locked ``order``; returns an outcome.

    Only the attempt that paid the order refunds it. A refund of another attempt (a second,
    duplicate payment) is flagged for review and never refunds the order; a ``VOIDED`` of an
    attempt that did not pay released an authorization, and is recorded only.

    A full refund or void (``FULL_REFUND``, ``VOID``, or no amount) refunds what is left. A
    requested refund of the same amount is the one DOKU confirms. DOKU repeats itself (its
    notification, then every status answer): a partial refund of an amount already refunded
    on this attempt is taken as that one again, so a second back-office refund of the same
    amount must be recorded by hand.
    """
    outcome = Notification.Outcome
    what = f"DOKU reported {status} ({refund_type or 'no type'}) for {session.invoice_number}"
    paying = paying_link(order) if order.money_taken else None
    if paying is None or paying.pk != session.pk:
        if status == "VOIDED":
            return outcome.IGNORED  # an authorization released: no money was taken
        # A refund of a duplicate payment on another attempt, or of an order that is not paid:
        # the money is real, the order's status is not DOKU's to change here.
        states.flag_for_review(order, f"{what}, which did not pay the order; the order was not changed.")
        return outcome.FLAGGED
    refunds = list(order.refunds.all())
    succeeded = sum(r.amount for r in refunds if r.status == Refund.Status.SUCCEEDED)
    requested = [r for r in refunds if r.status == Refund.Status.REQUESTED]
    full = refund_type in ("VOID", "FULL_REFUND") or amount is None
    wanted = order.amount - succeeded if full else amount
    if wanted is None or wanted <= 0:
        return outcome.DUPLICATE  # everything was refunded already
    match = next((r for r in requested if r.amount == wanted), None)
    if match is not None:
        match.refund_type = match.refund_type or refund_type
        match.notification = notification
        _succeed(order, match, source=source, notification=notification)
        return outcome.PROCESSED
    if not full and any(r.status == Refund.Status.SUCCEEDED and r.amount == wanted for r in refunds):
        return outcome.DUPLICATE
    left = order.amount - succeeded - sum(r.amount for r in requested)
    if wanted > left:
        states.flag_for_review(
            order, f"{what} of {wanted}, more than the {left} left to refund of {order.amount}; recorded for staff."
        )
        return outcome.FLAGGED
    refund = Refund.objects.create(
        order=order,
        checkout_session=session,
        amount=wanted,
        method=Refund.Method.DOKU,
        request_id=f"doku-{uuid4()}",
        refund_type=refund_type,
        notification=notification,
        reason=what,
    )
    _succeed(order, refund, source=source, notification=notification)
    return outcome.PROCESSED
