"""What every benchmark shares: Django set-up, timing, test orders and an instant DOKU."""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]

#: The settings the in-process benchmarks and the gunicorn server both use.
SETTINGS = "benchmarks.site.settings"


def setup_django(database_url: str) -> None:
    """Configure Django on a fresh test database (``test_<name>``), created for this run."""
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()

    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    # Servers started later connect to the test database, not the one named in the URL.
    os.environ["DATABASE_URL"] = database_url.rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]


def empty_tables() -> None:
    """Start a benchmark on an empty database, whatever the ones before it wrote."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)


def timed(run: Callable[..., Any], *args: Any) -> float:
    """Seconds ``run(*args)`` took."""
    started = time.perf_counter()
    run(*args)
    return time.perf_counter() - started


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def make_orders(count: int, prefix: str, *, with_links: bool = False) -> list[Any]:
    """``count`` orders with two line items each, written in bulk; optionally each with an open link."""
    from django_doku_checkout.models import CheckoutSession, LineItem, Order, OrderStatus

    orders = Order.objects.bulk_create(
        (
            Order(
                invoice_number=f"{prefix}-{index}",
                amount=240_000,
                customer_name="Siti",
                customer_email="siti@example.com",
                customer_phone="081234567890",
                status=OrderStatus.PENDING if with_links else OrderStatus.CREATED,
            )
            for index in range(count)
        ),
        batch_size=2000,
    )
    LineItem.objects.bulk_create(
        (
            LineItem(order=order, name=name, price=price, quantity=quantity, sku=sku)
            for order in orders
            for name, price, quantity, sku in (("Batik shirt", 150_000, 1, "BTK-1"), ("Kopi Toraja", 45_000, 2, "KT-2"))
        ),
        batch_size=2000,
    )
    if with_links:
        CheckoutSession.objects.bulk_create(
            (
                CheckoutSession(
                    order=order,
                    invoice_number=order.invoice_number,
                    request_id=f"req-{order.invoice_number}",
                    payment_url="https://sandbox.doku.com/checkout-link-v2/t",
                )
                for order in orders
            ),
            batch_size=2000,
        )
    return orders


class InstantDoku(requests.adapters.BaseAdapter):
    """Answers every Checkout call at once, as DOKU would: DOKU replaced, nothing else."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        body = json.loads(request.body or b"{}")
        answer = requests.Response()
        answer.status_code = 200
        answer._content = json.dumps(
            {
                "message": ["SUCCESS"],
                "response": {
                    "order": {"invoice_number": body["order"]["invoice_number"]},
                    "payment": {
                        "url": "https://sandbox.doku.com/checkout-link-v2/t",
                        "token_id": "t",
                        "expired_date": "20991231235959",
                    },
                },
            }
        ).encode()
        answer.headers["Content-Type"] = "application/json"
        answer.request = request
        return answer

    def close(self) -> None:
        pass
