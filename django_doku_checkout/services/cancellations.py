"""Cancelling payment links at DOKU, so a link the shop withdrew can no longer be paid.

DOKU cancels an unpaid Checkout order with ``POST /checkout/v3/cancellations`` (naming it by
its invoice number and ``payment.original_request_id``, the Request-Id that created it) for bank
transfers (except BTN, BNC, BPD and OCBC), QRIS and convenience stores, once it has enabled
the call for the merchant. With the ``CANCEL_AT_DOKU`` setting, cancelling an order and
withdrawing its links (an amount change in the admin) ask DOKU to cancel each open link.
Each answer is recorded on the link (``cancelled_at_doku`` or ``doku_cancel_error``), so
staff see which withdrawn links DOKU could not cancel and may still be paid; such a payment
is recorded and flagged for review, never lost.

A cancellation goes through the claim protocol (:mod:`.claims`): its Request-Id and exact
bytes are committed on the link before DOKU is asked with no transaction open, and DOKU's
answer is recorded with the order locked. One cut off mid-call (no answer in time, a 5xx,
the process killed) stays in flight: the next cancellation of the link sends it again with
the same Request-Id, and so does reconciliation for a withdrawn link once the claim is stale
(:func:`resend_stale_cancellations`). DOKU answers a Request-Id it has seen with its first
answer (HTTP 409), recorded like that answer: a yes as cancelled, a no as DOKU's refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError
from django_doku_checkout.models import CheckoutSession, Order
from django_doku_checkout.services.claims import RESEND_LIMIT, Answer, Claim, ClaimedCall
from django_doku_checkout.services.locking import guarded, locked_rows
from django_doku_checkout.services.unit_of_work import Writes

logger = logging.getLogger(__name__)

#: A link's stored request and response, never read here.
_BODIES = ("request_body", "response_body")


@dataclass(frozen=True)
class LinkCancellation:
    """DOKU's answer for one link: cancelled, or why not (it may then still be paid)."""

    link: CheckoutSession
    cancelled: bool
    message: str = ""


def open_links(order: Order) -> list[CheckoutSession]:
    """The order's links a shopper may still pay at DOKU: open (or being created), or expired but recoverable.

    With abandoned-cart recovery DOKU still takes a payment on an expired link until its
    ``recoverable_until``: such a link is asked to be cancelled too.
    """
    statuses = (CheckoutSession.Status.OPEN, CheckoutSession.Status.CREATING, CheckoutSession.Status.EXPIRED)
    return unexpired(order.checkout_sessions.filter(status__in=statuses).defer(*_BODIES))


def unexpired(links: Iterable[CheckoutSession]) -> list[CheckoutSession]:
    """The ``links`` DOKU may still take a payment on: not expired, or in their recovery window."""
    now = timezone.now()
    return [
        link
        for link in links
        if (link.payable_until is None and link.status != CheckoutSession.Status.EXPIRED)
        or (link.payable_until is not None and link.payable_until > now)
    ]


def payable_at_doku(now: datetime) -> Q:
    """The links DOKU may still take a payment on at ``now``, as a query: :func:`unexpired`'s rule for the database.

    Open or expired links, and withdrawn ones DOKU did not cancel, whose time at DOKU
    (``payable_until``: the recovery window, else the expiry) has not run out. A link
    without a time is left out, so the set stays bounded, and so is one DOKU already reported
    paid (recorded, or flagged for review): DOKU takes no second payment on it.
    """
    window = Q(recoverable_until__gt=now) | Q(recoverable_until__isnull=True, expires_at__gt=now)
    withdrawn = Q(status=CheckoutSession.Status.CANCELLED, cancelled_at_doku__isnull=True) & ~Q(payment_url="")
    statuses = Q(status__in=(CheckoutSession.Status.OPEN, CheckoutSession.Status.EXPIRED)) | withdrawn
    return window & statuses & ~Q(last_transaction_status="SUCCESS")


def cancellation_body(link: CheckoutSession) -> dict[str, Any]:
    """DOKU's Cancel Order request for ``link``: its invoice number and the Request-Id that created it."""
    return {"order": {"invoice_number": link.invoice_number}, "payment": {"original_request_id": link.request_id}}


#: A cancellation at DOKU: its claim lives on the link it cancels.
CANCEL = ClaimedCall(
    in_flight=lambda: CheckoutSession.objects.exclude(cancel_request_payload="").defer(*_BODIES),
    call=lambda client, claim: client.cancel_checkout(claim.body, request_id=claim.request_id),
    claim_type=Claim,
    request_id_field="cancel_request_id",
    payload_field="cancel_request_payload",
    claimed_at_field="cancel_claimed_at",
)


def cancel_links_at_doku(
    links: Iterable[CheckoutSession], *, client: DokuClient | None = None
) -> list[LinkCancellation]:
    """Ask DOKU to cancel each link, one call each with nothing locked, and record each answer on the link.

    Card payment pages are not Checkout orders: DOKU has no call to cancel them, so they are
    reported without asking. A link DOKU refuses (its channel is not supported, it was paid
    meanwhile, the merchant is not enabled) is reported with DOKU's message, and so is one
    whose retry DOKU answered 409 repeating a refusal: only DOKU's yes records a link as
    cancelled at DOKU. A link whose earlier cancellation got no answer (DOKU not reached in
    time, a 5xx, its process killed) is asked again with that cancellation's Request-Id.
    """
    return [_cancel(link, client=client) for link in links]


def _cancel(link: CheckoutSession, *, client: DokuClient | None, anew: bool = False) -> LinkCancellation:
    if link.kind != CheckoutSession.Kind.CHECKOUT:
        refused = LinkCancellation(link, False, gettext("DOKU cannot cancel a card payment page."))

        def record() -> None:
            locked_rows(Order.objects).get(pk=link.order_id)
            _store(link, refused)

        atomic_with_retry(record)
        return refused
    claim = atomic_with_retry(lambda: _claim(link, anew=anew))
    return CANCEL.complete(claim, _record, client=client)


def _claim(link: CheckoutSession, *, anew: bool) -> Claim:
    """The link's cancellation, committed before DOKU is asked: the one in flight, or a new one.

    ``anew`` leaves one in flight aside: it was made before DOKU created the link, so DOKU
    may have answered it "not found", and a replay of it would only repeat that.
    """
    locked = locked_rows(Order.objects).get(pk=link.order_id)
    current = guarded(CheckoutSession.objects.defer(*_BODIES), locked).get(pk=link.pk)
    if current.cancel_request_payload and not anew:
        return CANCEL.take_over(current)
    claim = CANCEL.stake(current, cancellation_body(current))
    writes = Writes()
    writes.save(current, ["cancel_request_id", "cancel_request_payload", "cancel_claimed_at"])
    writes.flush()
    return claim


def _record(claim: Claim, answer: Answer) -> LinkCancellation:
    """Record DOKU's answer to a cancellation on its link, with the order locked first.

    Its order is locked first as for every change to a link: locking the link alone would
    invert that order inside a shop's own transaction (its ``cancel_order`` then locks the
    order), and a pay click or a notification, which lock the order and then the link, would
    deadlock with it. An answer to a claim no longer in flight (another send of it, or a newer
    cancellation, recorded DOKU's answer meanwhile) leaves the link as that answer left it.
    """
    link: CheckoutSession = claim.row
    locked = locked_rows(Order.objects).get(pk=link.order_id)
    current = guarded(CANCEL.in_flight(), locked).filter(pk=link.pk, cancel_request_id=claim.request_id).exists()
    if not current:
        recorded = guarded(CheckoutSession.objects.defer(*_BODIES), locked).get(pk=link.pk)
        return LinkCancellation(recorded, recorded.cancelled_at_doku is not None, recorded.doku_cancel_error)
    failure = answer.failure
    if failure is None:
        result = LinkCancellation(link, True)
    elif isinstance(failure, DokuAPIError):
        result = LinkCancellation(link, False, "; ".join(failure.messages) or str(failure))
    else:
        result = LinkCancellation(link, False, str(failure))
    if answer.settled:
        _store(link, result, cancel_request_payload="")
    else:
        _store(link, result)  # DOKU may have cancelled it: the claim stays in flight, to be sent again
        logger.warning("Cancelling %s at DOKU: no answer yet: %s", link.invoice_number, failure)
    return result


def _store(link: CheckoutSession, result: LinkCancellation, **claim: str) -> None:
    """Write what DOKU said about cancelling ``link`` (call it with the order locked)."""
    link.cancelled_at_doku = timezone.now() if result.cancelled else None
    link.doku_cancel_error = result.message
    for name, value in claim.items():
        setattr(link, name, value)
    writes = Writes()
    writes.save(link, ["cancelled_at_doku", "doku_cancel_error", *claim])
    writes.flush()


def resend_stale_cancellations(*, limit: int = RESEND_LIMIT, client: DokuClient | None = None) -> int:
    """Send again the cancellations of withdrawn links left without DOKU's answer; returns how many DOKU answered.

    Only those untouched for longer than a call to DOKU can take, the oldest first, at most
    ``limit`` a run, each with its own Request-Id and bytes: DOKU answers one it already
    processed with its first answer (HTTP 409), recorded like that answer. A link still open
    (its cancelling process died before it withdrew the link) is left to the next cancellation
    of its order, which sends the same request. Reconciliation runs this; every resend is logged.
    """
    answered = 0
    for claim in CANCEL.stale_claims(where=Q(status=CheckoutSession.Status.CANCELLED), limit=limit):
        answer = CANCEL.send(claim, client)
        result = CANCEL.record(claim, answer, _record)
        answered += answer.settled
        logger.info(
            "Resent the cancellation of %s at DOKU: %s",
            claim.row.invoice_number,
            "cancelled" if result.cancelled else result.message,
        )
    return answered


def links_payable_at_doku(order: Order) -> list[CheckoutSession]:
    """The order's withdrawn links DOKU did not cancel and may still take a payment on: a shopper may pay them.

    A link withdrawn while DOKU was still being asked for it (its request not yet answered)
    counts too: DOKU may create it after the cancellation it did not know of yet. So does an
    expired link in its abandoned-cart recovery window (``recoverable_until``).
    """
    return unexpired(
        order.checkout_sessions.filter(
            Q(status=CheckoutSession.Status.CANCELLED, cancelled_at_doku__isnull=True)
            & (~Q(payment_url="") | ~Q(request_payload=""))
        )
    )


def cancel_withdrawn_link(link: CheckoutSession, *, client: DokuClient | None = None) -> None:
    """DOKU created ``link`` after it was withdrawn: cancel it at DOKU too, with ``CANCEL_AT_DOKU``.

    The order's cancellation asked DOKU before DOKU knew the link, so this is the first time
    DOKU can be asked; its answer is recorded on the link like any other.
    """
    if get_config().cancel_at_doku and link.payment_url and link.cancelled_at_doku is None:
        _cancel(link, client=client, anew=True)
