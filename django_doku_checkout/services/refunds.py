"""Refunds: giving a paid order's money back, in full or in parts, and keeping the books right.

Three ways a refund happens, one :class:`~django_doku_checkout.models.Refund` row each:

- **Card payments** are refunded through DOKU's API (``POST /cancellation/credit-card/refund``)
  by :func:`refund_payment`, in three short steps like payment links: *claim* a
  ``requested`` refund with the order's row locked (the claim reserves its amount, so two
  staff members refunding at once can never give back more than was paid), *call* DOKU with
  nothing locked, *record* DOKU's answer with the order locked again.
- **Other channels** have no refund API a Checkout merchant can call: staff refund them in
  DOKU's back office and record it with :func:`.manual_refunds.record_manual_refund`.
- **DOKU's own word** (a ``REFUNDED`` or ``VOIDED`` notification or status answer for the
  attempt that paid) is matched to refunds by identity (DOKU's approval code), never by
  amount: a repeat is a duplicate, a refund made in DOKU's back office is recorded, one that
  cannot be attributed is flagged for staff: :func:`.refund_reports.apply_doku_refund`. A ``requested``
  refund is settled only by its own answer; reconciliation resends those left waiting
  (:func:`resend_stale_refunds`).

Every succeeded refund moves the order to ``partially_refunded``, or to ``refunded`` once
the refunded total is what was paid, and announces ``payment_refunded`` once, after the
commit, through :mod:`.deliveries`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.db import IntegrityError
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext

from django_doku_checkout.client import DokuClient
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import (
    Actor,
    CheckoutSession,
    Notification,
    Order,
    OrderEvent,
    OrderStatus,
    Refund,
    saved_user,
)
from django_doku_checkout.payment_methods import is_card
from django_doku_checkout.redaction import redact
from django_doku_checkout.services import states
from django_doku_checkout.services.claims import RESEND_LIMIT, Answer, Claim, ClaimedCall
from django_doku_checkout.services.deliveries import announce
from django_doku_checkout.services.locking import guarded, locked_rows
from django_doku_checkout.text import storable

logger = logging.getLogger(__name__)

#: Orders a refund can be made for: money taken and not all given back yet.
REFUNDABLE = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED})
#: Refunds that count against what is left: done, or being asked for.
RESERVING = (Refund.Status.REQUESTED, Refund.Status.SUCCEEDED)


class RefundNotAllowed(DokuError):
    """The refund was refused before anything was sent: the order is not paid, or the amount is too high."""


class RefundedMeanwhile(RefundNotAllowed):
    """The order was refunded after the caller last looked (another tab, another staff member): ask again first."""


class RefundNotSupported(RefundNotAllowed):
    """The payment's channel has no refund API for Checkout merchants: refund it in DOKU's back office."""


# --- reading ---------------------------------------------------------------------------------------


def paying_link(order: Order) -> CheckoutSession | None:
    """The payment link whose payment paid the order: the one a refund gives back."""
    if order.paid_link_id is not None:
        return guarded(CheckoutSession.objects, order).get(pk=order.paid_link_id)
    # Orders paid before the app remembered the paying link: their one paid link.
    paid = order.checkout_sessions.filter(status=CheckoutSession.Status.PAID)
    return guarded(paid, order).order_by("created_at", "id").first()


def refunded_total(order: Order, *, statuses: tuple[str, ...] = (Refund.Status.SUCCEEDED,)) -> int:
    """The total of the order's refunds in ``statuses`` (succeeded ones by default), in whole rupiah."""
    total = guarded(order.refunds.filter(status__in=statuses), order).aggregate(total=Sum("amount"))["total"]
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


def record_success(order: Order, refund: Refund, *, source: str, notification: Notification | None = None) -> None:
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


def reserve(
    order: Order, amount: int | None, *, last_refund_seen: int | None = None
) -> tuple[Order, CheckoutSession, int]:
    """Lock the order and check a refund of ``amount`` (None: all that is left); returns what to refund.

    With ``last_refund_seen`` (the newest of the order's refunds the caller knew of, 0 for
    none), a refund made or asked for since then refuses this one: checked under the order's
    lock, so two staff forms rendered before either refunded cannot both refund.
    """
    locked = locked_rows(Order.objects).get(pk=order.pk)
    if last_refund_seen is not None:
        newer = locked.refunds.filter(pk__gt=last_refund_seen, status__in=RESERVING)
        since = guarded(newer, locked).order_by("-pk").first()
        if since is not None:
            raise RefundedMeanwhile(
                gettext(
                    "Order %(invoice)s was refunded while this form was open (%(amount)s); nothing more was "
                    "refunded. Check the refunds, and confirm if you mean another one."
                )
                % {"invoice": locked.invoice_number, "amount": format_rupiah(since.amount, locked.currency)}
            )
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


def event_source(actor: Actor) -> str:
    return OrderEvent.Source.ADMIN if saved_user(actor) is not None else OrderEvent.Source.SYSTEM


# --- card refunds through DOKU's API: claim, call, record (the protocol is :mod:`.claims`) ---------

#: A card refund: its claim is the ``requested`` refund.
REFUND = ClaimedCall(
    in_flight=lambda: Refund.objects.filter(status=Refund.Status.REQUESTED, method=Refund.Method.CARD_API),
    call=lambda client, claim: client.refund_card_payment(claim.body, request_id=claim.request_id),
    claim_type=Claim,
)


def refund_payment(
    order: Order,
    amount: int | None = None,
    *,
    reason: str = "",
    actor: Actor = None,
    client: DokuClient | None = None,
    key: str | None = None,
    last_refund_seen: int | None = None,
) -> Refund:
    """Refund ``amount`` (None: all that is left) of a paid card payment through DOKU; returns the refund.

    Partial and repeated refunds are allowed up to what was paid. No lock is held while DOKU
    is asked: a ``requested`` refund is claimed first (reserving its amount), then DOKU is
    asked, then its answer recorded. Raises :class:`RefundNotAllowed` before sending anything
    for an order that is not paid or an amount above what is left, :class:`RefundNotSupported`
    for a payment that is not by card (refund it in DOKU's back office, then
    :func:`.manual_refunds.record_manual_refund`), and :class:`DokuAPIError` when DOKU refuses (the refund is
    then ``failed``). When DOKU could not be reached, :class:`DokuTransportError` is raised and
    the refund stays ``requested``, its amount reserved: :func:`resend_refund` repeats the same
    request, which DOKU answers with its first answer if it already refunded.

    ``key`` (a staff form's idempotency key) makes the call idempotent: when a refund was
    already made with that key, it is returned as it stands (succeeded, pending or failed),
    marked ``reused``, and nothing is sent to DOKU. The key is looked up with the order locked, so two calls
    with one key at once make one refund; the key's unique constraint backs that up.
    ``last_refund_seen`` (the pk of the newest of the order's refunds the form showed, 0 for
    none) raises :class:`RefundedMeanwhile` when another refund was made or asked for since:
    two forms rendered before either refunded make one refund, not two.
    """

    claim = partial(
        _claim_refund, order, amount, reason=reason, actor=actor, key=key, last_refund_seen=last_refund_seen
    )
    refund, claimed = claim_once(claim, order, key)
    return _send(REFUND.claim_of(refund), client) if claimed else refund


def _claim_refund(
    order: Order, amount: int | None, *, reason: str, actor: Actor, key: str | None, last_refund_seen: int | None
) -> tuple[Refund, bool]:
    """With the order locked: the refund made with ``key`` already (and False), or a new claim (and True)."""
    made = made_with(order, key)
    if made is not None:
        return made, False
    locked, link, wanted = reserve(order, amount, last_refund_seen=last_refund_seen)
    if not refundable_by_api(link):
        raise RefundNotSupported(
            gettext(
                "Order %(invoice)s was paid with %(channel)s, which DOKU cannot refund through its API. "
                "DOKU refunds it on a support request with the customer's bank account; then record that refund here."
            )
            % {"invoice": locked.invoice_number, "channel": link.payment_channel or gettext("an unknown channel")}
        )
    body = {
        "order": {"invoice_number": link.invoice_number},
        # DOKU's id of the payment; our Request-Id for the link when DOKU did not send it.
        "payment": {"original_request_id": link.original_request_id or link.request_id},
        "refund": {"amount": wanted},
    }
    refund = Refund(
        order=locked,
        checkout_session=link,
        amount=wanted,
        reason=reason,
        method=Refund.Method.CARD_API,
        status=Refund.Status.REQUESTED,
        idempotency_key=key or None,
        actor=saved_user(actor),
    )
    REFUND.stake(refund, body)
    refund.save(force_insert=True)
    return refund, True


def made_with(order: Order, key: str | None) -> Refund | None:
    """Lock ``order``; the refund a staff form with ``key`` already made for it, if any."""
    if not key:
        return None
    locked = locked_rows(Order.objects).get(pk=order.pk)
    made = guarded(Refund.objects.filter(idempotency_key=key), locked).first()
    if made is not None and made.order_id != locked.pk:
        raise RefundNotAllowed(gettext("This form was made for another order; nothing was refunded."))
    if made is not None:
        made.reused = True
    return made


def claim_once(claim: Callable[[], tuple[Refund, bool]], order: Order, key: str | None) -> tuple[Refund, bool]:
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
    # Taken over, so in flight again: a report DOKU sends meanwhile waits for this answer
    # (see apply_doku_refund).
    claim = REFUND.retake(refund)
    if claim is None:
        return Refund.objects.get(pk=refund.pk)  # not a card refund waiting for DOKU's answer
    return _send(claim, client)


def resend_stale_refunds(*, limit: int = RESEND_LIMIT, client: DokuClient | None = None) -> int:
    """Send again the card refunds left ``requested`` (DOKU not reached, or a 5xx); returns how many DOKU answered.

    Only refunds untouched for longer than a call to DOKU can take (not ones in flight now),
    the oldest first, at most ``limit`` a run. Each goes with its own Request-Id and bytes,
    so DOKU answers one it already made with its first answer (HTTP 409) and never refunds
    twice. Reconciliation runs this; every resend is logged.
    """
    answered = 0
    for claim in REFUND.stale_claims(limit=limit):
        refund = claim.row
        try:
            result = _send(claim, client)
        except DokuAPIError as err:
            answered += 1
            logger.warning("Resent refund %s of order %s: DOKU refused it: %s", refund.pk, refund.order_id, err)
            continue
        except DokuError as err:
            logger.warning("Resent refund %s of order %s: still no answer: %s", refund.pk, refund.order_id, err)
            continue
        answered += result.status != Refund.Status.REQUESTED
        logger.info("Resent refund %s of order %s: %s", refund.pk, refund.order_id, result.status)
    return answered


def _send(claim: Claim, client: DokuClient | None) -> Refund:
    recorded, failure = REFUND.complete(claim, _record, client=client)
    if failure is not None:
        raise failure
    return recorded


def _record(claim: Claim, reply: Answer) -> tuple[Refund, DokuError | None]:
    """Store DOKU's answer on a claimed refund, with its order locked."""
    refund: Refund = claim.row
    response, failure = reply.response, reply.failure
    order = locked_rows(Order.objects).get(pk=refund.order_id)
    current = guarded(Refund.objects, order).get(pk=refund.pk)
    if current.status == Refund.Status.FAILED:
        # Another send of this refund recorded DOKU's refusal: it is refused, whatever this one got.
        return current, DokuAPIError(
            status_code=response.status_code if response is not None else 400,
            messages=[current.error_message],
            request_id=current.request_id,
        )
    if current.status != Refund.Status.REQUESTED:
        return current, None  # another send of this refund recorded DOKU's answer already
    if response is not None:
        answer = response.data.get("refund")
        answer = answer if isinstance(answer, dict) else {}
        current.response_body = redact(response.data)
        current.refund_type = storable(answer.get("type"), 32)
        current.doku_reference = storable(answer.get("approval_code"), 128)
        if answer.get("status") == "SUCCESS":
            current.error_message = ""
            record_success(order, current, source=event_source(current.actor))
            return current, None
        error = response.data.get("error")  # a refusal DOKU replays with 409 for a resent Request-Id
        message = (
            storable(answer.get("message"), 500)
            or (storable(error.get("message"), 500) if isinstance(error, dict) else "")
            or "DOKU did not answer refund.status SUCCESS"
        )
        failure = DokuAPIError(
            status_code=response.status_code, messages=[message], request_id=response.request_id, body=response.data
        )
        current.status = Refund.Status.FAILED
    elif isinstance(failure, DokuAPIError) and failure.status_code < 500:
        current.status = Refund.Status.FAILED
        current.response_body = redact(failure.body) if isinstance(failure.body, dict) else {}
    # Otherwise DOKU was not reached or failed (5xx): the refund may have been made, so it
    # stays requested, its amount reserved, until it is resent or DOKU reports it.
    if current.status == Refund.Status.FAILED and current.amount < order.amount and isinstance(failure, DokuAPIError):
        failure = _partial_refused(failure)
    current.error_message = str(failure)
    if current.status == Refund.Status.FAILED:
        current.request_payload = ""
        current.completed_at = timezone.now()
    current.save()
    logger.warning("Refund %s of order %s: %s", current.pk, order.invoice_number, failure)
    return current, failure


def _partial_refused(failure: DokuAPIError) -> DokuAPIError:
    """DOKU's refusal of a partial refund, with the rule staff most likely hit and what to do."""
    hint = gettext(
        "If DOKU has not settled this card payment yet, it can only void the whole amount: refund the whole "
        "amount now, or this part once DOKU has settled the payment."
    )
    return DokuAPIError(
        status_code=failure.status_code,
        messages=[*failure.messages, hint],
        request_id=failure.request_id,
        body=failure.body,
    )
