"""Benchmark 1: ``services.create_payment_link``, as the pay view calls it, against the least its work needs.

DOKU is replaced by an in-process adapter that answers at once, so what is timed is the
app: reading the order, building, checking and signing the body, and recording the link.
"""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.common import InstantDoku, make_orders, summary, timed


def floor_link(order: Any, config: Any, *, lock: bool = False) -> None:
    """The floor: read the items, serialize and sign the same full body, write the same rows.

    Plain ORM calls in one transaction, with no lock, no reuse of a live link, no
    validation and no HTTP client: what a hand-rolled integration does on its best day.
    ``lock`` adds the one thing correctness cannot do without: the order's row lock, so
    that two clicks at once do not make two links.
    """
    from django.db import transaction

    from django_doku_checkout import payloads, signatures
    from django_doku_checkout.models import CheckoutSession, LineItem, Order, OrderEvent, OrderStatus
    from django_doku_checkout.services.locking import locked_rows

    site = "https://shop.example.com/doku"
    with transaction.atomic():
        if lock:
            locked_rows(Order.objects).get(pk=order.pk)
        items = LineItem.objects.filter(order=order).values("name", "price", "quantity", "sku")
        body = payloads.encode_body(
            {
                "order": {
                    "amount": order.amount,
                    "invoice_number": order.invoice_number,
                    "currency": order.currency,
                    "callback_url": f"{site}/return/{order.public_id}/",
                    "callback_url_cancel": f"{site}/cancel/{order.public_id}/",
                    "callback_url_result": f"{site}/result/{order.public_id}/",
                    "language": "EN",
                    "auto_redirect": True,
                    "line_items": list(items),
                },
                "payment": {"payment_due_date": 60},
                "customer": {"name": order.customer_name, "email": order.customer_email, "phone": "6281234567890"},
            }
        )
        signatures.signed_headers(
            config.secret_key, client_id=config.client_id, target="/checkout/v1/payment", body=body
        )
        CheckoutSession.objects.create(
            order=order,
            invoice_number=order.invoice_number,
            request_id=f"req-{order.invoice_number}",
            payment_url="https://sandbox.doku.com/checkout-link-v2/t",
        )
        order.status = OrderStatus.PENDING
        order.save(update_fields=["status", "updated_at"])
        OrderEvent.objects.create(order=order, old_status="created", new_status="pending", source="shopper")


def each(orders: list[Any], work: Any) -> None:
    for order in orders:
        work(order)


def bench_link_creation(repeats: int, per_run: int) -> dict[str, Any]:
    """Median time per link, the app against the floor, each on its own fresh orders."""
    from django_doku_checkout import services
    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.conf import get_config

    DokuClient.transport_adapter = InstantDoku()
    try:
        config = get_config()
        ours, floor, locked_floor = [], [], []
        for run in range(repeats + 1):  # the first run of each warms up and is not counted
            app_orders = make_orders(per_run, f"LINK-{run}")
            floor_orders = make_orders(per_run, f"FLOOR-{run}")
            locked_orders = make_orders(per_run, f"LOCKED-{run}")
            # The default path, as the pay view and the admin call it: no client passed.
            app = timed(each, app_orders, lambda order: services.create_payment_link(order))
            least = timed(each, floor_orders, lambda order: floor_link(order, config))
            least_locked = timed(each, locked_orders, lambda order: floor_link(order, config, lock=True))
            if run:
                ours.append(app / per_run)
                floor.append(least / per_run)
                locked_floor.append(least_locked / per_run)
    finally:
        DokuClient.transport_adapter = None
    return {
        "ours": summary(ours),
        "floor": summary(floor),
        "locked_floor": summary(locked_floor),
        "ratio": statistics.median(ours) / statistics.median(floor),
        "locked_ratio": statistics.median(ours) / statistics.median(locked_floor),
    }
