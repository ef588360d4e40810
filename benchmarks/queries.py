"""Benchmark 4: how many SQL queries each request makes; none may grow with the order table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks.common import InstantDoku, empty_tables, make_orders
from benchmarks.server import post_in_process, signed_notifications


def bench_queries() -> dict[str, int]:
    """Queries per request, counted on an empty database so the order counts are exact."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.models import Order

    empty_tables()
    DokuClient.transport_adapter = InstantDoku()
    counts: dict[str, int] = {}

    def queries(run: Callable[[], Any]) -> int:
        with CaptureQueriesContext(connection) as captured:
            run()
        return len(captured)

    client = Client()
    [order] = make_orders(1, "Q-PAY")
    pay = reverse("doku_checkout:pay", args=[order.public_id])
    counts["pay view, create path"] = queries(lambda: client.post(pay))
    counts["pay view, reuse path"] = queries(lambda: client.post(pay))
    notification = reverse("doku_checkout:notification")
    [prepared] = signed_notifications([order.checkout_sessions.get().invoice_number], notification)
    counts["notification (SUCCESS)"] = queries(lambda: post_in_process(client, prepared))
    counts["return page (paid order)"] = queries(
        lambda: client.get(reverse("doku_checkout:return", args=[order.public_id]))
    )
    admin = User.objects.create_superuser("bench", "b@example.com", "x")
    client.force_login(admin)
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    for total in (10, 10_000):
        missing = total - Order.objects.count()
        if missing > 0:
            make_orders(missing, f"Q-LIST-{total}", with_links=True)
        counts[f"admin order changelist, {total:,} orders"] = queries(lambda: client.get(changelist))
    DokuClient.transport_adapter = None
    return counts
