"""The claim protocol driven by hand: the claim the pay view makes, and a link withdrawn by a cancel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_doku_checkout.models import Order


def claim_link(order: Order) -> Any:
    """The claim the pay view makes before asking DOKU (call it inside a transaction, and commit it)."""
    from django_doku_checkout.services import claims, link_requests, links

    return links._claim(
        order,
        kind="checkout",
        build=lambda locked, invoice_number: link_requests.checkout_body(locked, invoice_number, None),
        ttl=claims.claim_ttl(),
    )


def assert_withdrawn(order: Order) -> None:
    """A link recorded after its order was cancelled: DOKU's answer kept, the link never handed out."""
    from django_doku_checkout.models import CheckoutSession, OrderStatus

    link = order.checkout_sessions.get()
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.payment_url
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
