"""Refunds staff made in DOKU's back office, for channels without a refund API: recorded, never sent."""

from __future__ import annotations

from uuid import uuid4

from django_doku_checkout.models import Actor, Order, Refund, saved_user
from django_doku_checkout.services.refunds import claim_once, event_source, made_with, record_success, reserve


def record_manual_refund(
    order: Order,
    amount: int | None = None,
    *,
    reason: str = "",
    actor: Actor = None,
    reference: str = "",
    key: str | None = None,
    last_refund_seen: int | None = None,
) -> Refund:
    """Record a refund staff made in DOKU's back office (channels without a refund API); returns it.

    Nothing is sent to DOKU. The same checks as :func:`.refunds.refund_payment` apply, and the refund
    counts, moves the order and announces ``payment_refunded`` like any other. ``key`` works
    as for :func:`.refunds.refund_payment`: a form sent twice records its refund once.
    """

    def record() -> tuple[Refund, bool]:
        made = made_with(order, key)
        if made is not None:
            return made, False
        locked, link, wanted = reserve(order, amount, last_refund_seen=last_refund_seen)
        refund = Refund.objects.create(
            order=locked,
            checkout_session=link,
            amount=wanted,
            reason=reason,
            method=Refund.Method.MANUAL,
            request_id=f"manual-{uuid4()}",
            doku_reference=reference[:128],
            idempotency_key=key or None,
            actor=saved_user(actor),
        )
        record_success(locked, refund, source=event_source(actor))
        return refund, True

    refund, _recorded = claim_once(record, order, key)
    order.refresh_from_db(fields=["status", "updated_at"])
    return refund
