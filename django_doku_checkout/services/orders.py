"""Orders: creating them from a cart, and cancelling them."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from django_doku_checkout import payloads
from django_doku_checkout.client import DokuClient
from django_doku_checkout.conf import get_config
from django_doku_checkout.db import atomic_with_retry
from django_doku_checkout.exceptions import DokuError, DokuValidationError
from django_doku_checkout.models import Actor, CheckoutSession, LineItem, Order, OrderEvent, OrderStatus
from django_doku_checkout.services import states
from django_doku_checkout.services.cancellations import cancel_links_at_doku, open_links, unexpired
from django_doku_checkout.services.locking import guarded, locked_rows
from django_doku_checkout.services.unit_of_work import Writes


class OrderNotPayable(DokuError):
    """The order is paid, cancelled or refunded: it never gets a new payment link."""


def new_invoice_number() -> str:
    """A unique, unguessable invoice number short enough for card payments (19 characters).

    Letters and digits only: Kartu Kredit Indonesia refuses symbols, and an order may be
    offered every channel.
    """
    return f"INV{timezone.now():%Y%m%d}{secrets.token_hex(4).upper()}"


def create_order(
    *,
    line_items: Sequence[payloads.LineItemData],
    invoice_number: str | None = None,
    currency: str = "IDR",
    **fields: Any,
) -> Order:
    """Create an ``Order`` and its line items from a cart; the amount is their total.

    ``fields`` are other ``Order`` fields such as ``customer_name`` or ``customer_email``.
    Nothing is stored when anything breaks DOKU's rules: :class:`DokuValidationError` names
    every field and rule (``customer.email must be an email address``), so a checkout form
    can show them; :mod:`django_doku_checkout.validators` has the same rules per field.
    """
    errors = payloads.check_order_data(_customer_data(fields), line_items)
    errors += Order.account_problems(fields.get("sub_account_id"), fields.get("split_rule_id"))
    if not line_items:
        errors.append("order.line_items must be filled")
    for index, item in enumerate(line_items):
        if not isinstance(item.price, int) or item.price < 0:
            errors.append(f"order.line_items[{index}].price must be a whole number of rupiah")
        if not isinstance(item.quantity, int) or item.quantity < 1:
            errors.append(f"order.line_items[{index}].quantity must be at least 1")
    amount = sum(item.price * item.quantity for item in line_items) if not errors else 0
    if not errors and not 0 < amount <= payloads.MAX_AMOUNT:
        errors.append("order.amount must greater than 0 and have at most 12 digits")
    if errors:
        raise DokuValidationError(list(dict.fromkeys(errors)))

    def create() -> Order:
        order = Order.objects.create(
            invoice_number=invoice_number or new_invoice_number(), amount=amount, currency=currency, **fields
        )
        LineItem.objects.bulk_create(
            LineItem(
                order=order,
                item_id=item.id or "",
                name=item.name,
                price=item.price,
                quantity=item.quantity,
                sku=item.sku or "",
                category=item.category or "",
                url=item.url or "",
                image_url=item.image_url or "",
                item_type=item.type or "",
            )
            for item in line_items
        )
        return order

    return atomic_with_retry(create)


#: ``create_order``'s customer fields and the DOKU customer field each one becomes.
CUSTOMER_FIELDS = {
    "customer_id": "id",
    "customer_name": "name",
    "customer_last_name": "last_name",
    "customer_email": "email",
    "customer_phone": "phone",
    "customer_address": "address",
    "customer_city": "city",
    "customer_state": "state",
    "customer_postcode": "postcode",
    "customer_country": "country",
}


def _customer_data(fields: dict[str, Any]) -> payloads.CustomerData:
    return payloads.CustomerData(
        **{doku: fields[name] or None for name, doku in CUSTOMER_FIELDS.items() if name in fields}
    )


def lock_payable(order: Order) -> Order:
    """The order's row, locked until the transaction ends; paid, cancelled or refunded is refused."""
    locked = locked_rows(Order.objects).get(pk=order.pk)
    if locked.status in states.UNPAYABLE:
        raise not_payable(locked)
    return locked


def not_payable(order: Order) -> OrderNotPayable:
    """The error that refuses a link, or a cancellation, for a paid, cancelled or refunded order."""
    return OrderNotPayable(
        gettext("Order %(invoice)s is %(status)s.")
        % {"invoice": order.invoice_number, "status": order.get_status_display().lower()}
    )


def withdraw_payment_links(order: Order, writes: Writes) -> list[CheckoutSession]:
    """Mark the order's open links cancelled so they are never handed out again; returns them.

    Call it with the order's row locked; the change is written when ``writes`` is flushed.
    Used when an order is cancelled or its amount changes. A link still being created is
    withdrawn too: its answer is recorded, never handed out; so is an expired link DOKU's
    abandoned-cart recovery still takes a payment on. DOKU itself is not told here:
    with the ``CANCEL_AT_DOKU`` setting, callers cancel the withdrawn links at DOKU with
    :func:`.cancellations.cancel_links_at_doku` once this has committed. A payment on a
    withdrawn link DOKU did not cancel still arrives and is flagged for review.
    """
    withdrawn = list(
        guarded(order.checkout_sessions, order)
        .filter(
            Q(status__in=(CheckoutSession.Status.OPEN, CheckoutSession.Status.CREATING))
            # Expired, but DOKU's abandoned-cart recovery still takes its payment.
            | Q(status=CheckoutSession.Status.EXPIRED, recoverable_until__gt=timezone.now())
        )
        .defer("request_body", "response_body")
    )
    for link in withdrawn:
        link.status = CheckoutSession.Status.CANCELLED
        writes.save(link, ["status", "updated_at"])
    return withdrawn


def cancel_order(order: Order, *, actor: Actor = None, note: str = "", client: DokuClient | None = None) -> Order:
    """Cancel an unpaid order and mark its open payment links cancelled.

    With the ``CANCEL_AT_DOKU`` setting, each open link is first cancelled at DOKU (no lock
    held while DOKU is asked), then the order is cancelled, and a link a pay click made
    meanwhile is cancelled at DOKU once the order's cancellation has committed (no new
    link can be made after it). DOKU's answer is recorded on each link, and
    :func:`.cancellations.links_payable_at_doku` lists those it could not cancel. Without
    it, or for links DOKU refuses, a shopper may still pay a link: such a payment is
    recorded and the order flagged for review, never lost. Raises :class:`OrderNotPayable`
    for a paid, cancelled or refunded order, before DOKU is asked.
    """
    cancel_at_doku = get_config().cancel_at_doku
    asked: set[int] = set()
    if cancel_at_doku:
        current = Order.objects.get(pk=order.pk)
        if current.status in states.UNPAYABLE:
            raise not_payable(current)
        # DOKU first: a payment made meanwhile still finds the order payable and pays it.
        asked = {result.link.pk for result in cancel_links_at_doku(open_links(current), client=client)}

    def cancel() -> tuple[Order, list[CheckoutSession]]:
        locked = lock_payable(order)
        source = OrderEvent.Source.ADMIN if actor is not None else OrderEvent.Source.SYSTEM
        writes = Writes()
        states.transition(locked, OrderStatus.CANCELLED, source=source, actor=actor, note=note, writes=writes)
        withdrawn = withdraw_payment_links(locked, writes)
        writes.flush()
        return locked, withdrawn

    locked, withdrawn = atomic_with_retry(cancel)
    order.status, order.updated_at = locked.status, locked.updated_at
    if cancel_at_doku:
        # Links made after DOKU was asked, before the order was cancelled: asked now.
        made_meanwhile = [link for link in unexpired(withdrawn) if link.pk not in asked]
        if made_meanwhile:
            cancel_links_at_doku(made_meanwhile, client=client)
    return order
