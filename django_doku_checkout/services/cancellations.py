"""Cancelling payment links at DOKU, so a link the shop withdrew can no longer be paid.

DOKU cancels an unpaid Checkout order with ``POST /checkout/v3/cancellations`` (naming it by
its invoice number and ``payment.original_request_id``, the Request-Id that created it) for bank
transfers (except BTN, BNC, BPD and OCBC), QRIS and convenience stores, once it has enabled
the call for the merchant. With the ``CANCEL_AT_DOKU`` setting, cancelling an order and
withdrawing its links (an amount change in the admin) ask DOKU to cancel each open link.
Each answer is recorded on the link (``cancelled_at_doku`` or ``doku_cancel_error``), so
staff see which withdrawn links DOKU could not cancel and may still be paid; such a payment
is recorded and flagged for review, never lost. DOKU is asked with no transaction open.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuAPIError, DokuError
from django_doku_checkout.models import CheckoutSession, Order
from django_doku_checkout.services.locking import locked_rows


@dataclass(frozen=True)
class LinkCancellation:
    """DOKU's answer for one link: cancelled, or why not (it may then still be paid)."""

    link: CheckoutSession
    cancelled: bool
    message: str = ""


def open_links(order: Order) -> list[CheckoutSession]:
    """The order's links a shopper may still pay at DOKU: open (or being created) and not expired."""
    now = timezone.now()
    return [
        link
        for link in order.checkout_sessions.filter(
            status__in=(CheckoutSession.Status.OPEN, CheckoutSession.Status.CREATING)
        ).defer("request_body", "response_body")
        if link.expires_at is None or link.expires_at > now
    ]


def cancellation_body(link: CheckoutSession) -> dict[str, Any]:
    """DOKU's Cancel Order request for ``link``: its invoice number and the Request-Id that created it."""
    return {"order": {"invoice_number": link.invoice_number}, "payment": {"original_request_id": link.request_id}}


def cancel_links_at_doku(
    links: Iterable[CheckoutSession], *, client: DokuClient | None = None
) -> list[LinkCancellation]:
    """Ask DOKU to cancel each link, one call each with nothing locked, and record each answer on the link.

    Card payment pages are not Checkout orders: DOKU has no call to cancel them, so they are
    reported without asking. A link DOKU refuses (its channel is not supported, it was paid
    meanwhile, the merchant is not enabled) is reported with DOKU's message, and so is one
    whose retry DOKU answered 409 repeating a refusal: only DOKU's yes records a link as
    cancelled at DOKU.
    """
    results = []
    for link in links:
        if link.kind != CheckoutSession.Kind.CHECKOUT:
            result = LinkCancellation(link, False, gettext("DOKU cannot cancel a card payment page."))
        else:
            try:
                (client or DokuClient()).cancel_checkout(cancellation_body(link))
                result = LinkCancellation(link, True)
            except DokuAPIError as err:
                result = LinkCancellation(link, False, "; ".join(err.messages) or str(err))
            except DokuError as err:
                result = LinkCancellation(link, False, str(err))
        _record_answer(link, result)
        results.append(result)
    return results


def _record_answer(link: CheckoutSession, result: LinkCancellation) -> None:
    """Record DOKU's answer on the link, with its order locked first as for every change to a link.

    Locking the link alone would invert that order inside a shop's own transaction (its
    ``cancel_order`` then locks the order), and a pay click or a notification, which lock
    the order and then the link, would deadlock with it.
    """

    def record() -> None:
        locked_rows(Order.objects).filter(pk=link.order_id).first()
        CheckoutSession.objects.filter(pk=link.pk).update(
            cancelled_at_doku=timezone.now() if result.cancelled else None,
            doku_cancel_error=result.message,
        )

    atomic_with_retry(record)


def links_payable_at_doku(order: Order) -> list[CheckoutSession]:
    """The order's withdrawn links DOKU did not cancel and that have not expired: a shopper may still pay them.

    A link withdrawn while DOKU was still being asked for it (its request not yet answered)
    counts too: DOKU may create it after the cancellation it did not know of yet.
    """
    now = timezone.now()
    return [
        link
        for link in order.checkout_sessions.filter(
            Q(status=CheckoutSession.Status.CANCELLED, cancelled_at_doku__isnull=True)
            & (~Q(payment_url="") | ~Q(request_payload=""))
        )
        if link.expires_at is None or link.expires_at > now
    ]


def cancel_withdrawn_link(link: CheckoutSession, *, client: DokuClient | None = None) -> None:
    """DOKU created ``link`` after it was withdrawn: cancel it at DOKU too, with ``CANCEL_AT_DOKU``.

    The order's cancellation asked DOKU before DOKU knew the link, so this is the first time
    DOKU can be asked; its answer is recorded on the link like any other.
    """
    if get_config().cancel_at_doku and link.payment_url and link.cancelled_at_doku is None:
        cancel_links_at_doku([link], client=client)
