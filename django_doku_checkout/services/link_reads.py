"""Reading an order's links: the newest DOKU made, the live one a shopper may still pay on, the current one under the lock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.utils import timezone

from django_doku_checkout.models import CheckoutSession, Order
from django_doku_checkout.services.locking import guarded

#: A link this close to DOKU's expiry is not handed to a shopper again.
REUSE_MARGIN = timedelta(minutes=2)
#: A link's stored request and response: for people reading the admin, never for decisions,
#: so reads that decide leave them out (they are the largest columns).
BODIES = ("request_body", "response_body")


def newest_link(order: Order) -> CheckoutSession | None:
    """The order's newest link DOKU created (failed attempts and claims left out), whatever its status."""
    return order.checkout_sessions.exclude(
        status__in=(CheckoutSession.Status.ERROR, CheckoutSession.Status.CREATING)
    ).first()


def live_link(order: Order, links: Iterable[CheckoutSession] | None = None) -> CheckoutSession | None:
    """The order's newest Checkout link a shopper can still pay on, if any.

    That is an open link, or an expired one in its abandoned-cart recovery window: DOKU
    still takes a payment on it until its ``recoverable_until``, so it is handed out again
    rather than a second DOKU order the shopper could pay as well. ``links`` are the
    order's links, newest first, when the caller has already read them.
    """
    cutoff = timezone.now() + REUSE_MARGIN
    for link in order.checkout_sessions.defer(*BODIES) if links is None else links:
        until = link.payable_until
        if (
            link.kind == CheckoutSession.Kind.CHECKOUT
            and (
                link.status == CheckoutSession.Status.OPEN
                or (link.status == CheckoutSession.Status.EXPIRED and link.recoverable_until is not None)
            )
            and link.payment_url
            and until is not None
            and until > cutoff
        ):
            return link
    return None


def current_link(locked: Order, **lookup: Any) -> CheckoutSession:
    """A link of the ``locked`` order, read after its lock was taken, so current (the order's lock guards its links)."""
    return guarded(CheckoutSession.objects.defer(*BODIES), locked).get(**lookup)
