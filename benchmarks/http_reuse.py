"""Benchmark 2: links over loopback HTTP, the default path against a naive integration.

DOKU is the standalone simulator in its own process, reached over TCP. The app's side is
``services.create_payment_link(order)`` with no client passed, as the pay view and the
admin call it. The naive side is what a shop writes without this app: ``requests.post``
per link, then one transaction that inserts the link and marks the order pending. Both
write to the same database; the server counts nothing, the client's pool counts the
connections it opens.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import requests

from benchmarks.common import make_orders, timed

CHECKOUT = "/checkout/v1/payment"


@contextlib.contextmanager
def standalone_simulator() -> Iterator[str]:
    """The simulator in a process of its own, with this project's test credentials; its base URL."""
    from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY
    from tests.servers import free_port, serving

    port = free_port()
    command = [sys.executable, "-m", "django_doku_checkout.simulator", "--port", str(port)]
    command += ["--client-id", CLIENT_ID, "--secret-key", SECRET_KEY]
    base = f"http://127.0.0.1:{port}"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    with serving(command, base, env={**os.environ, "DJANGO_SETTINGS_MODULE": ""}, **quiet):
        yield base


def simulator_settings(base: str, **extra: Any) -> dict[str, Any]:
    from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY

    return {
        "CLIENT_ID": CLIENT_ID,
        "SECRET_KEY": SECRET_KEY,
        "ENVIRONMENT": "simulator",
        "API_BASE_URL": base,
        "SITE_URL": "https://shop.example.com",
        **extra,
    }


@contextlib.contextmanager
def counting_connections() -> Iterator[dict[str, int]]:
    """How many connections urllib3 opens, whoever asks for them."""
    import urllib3.connectionpool

    opened = {"count": 0}
    original = urllib3.connectionpool.HTTPConnectionPool._new_conn

    def counting(self: Any) -> Any:
        opened["count"] += 1
        return original(self)

    urllib3.connectionpool.HTTPConnectionPool._new_conn = counting  # type: ignore[method-assign]
    try:
        yield opened
    finally:
        urllib3.connectionpool.HTTPConnectionPool._new_conn = original  # type: ignore[method-assign]


def naive_link(order: Any, base: str, config: Any) -> None:
    """A shop's own integration: sign and POST the body, then store the link and mark the order pending."""
    from django.db import transaction

    from django_doku_checkout import payloads, signatures
    from django_doku_checkout.models import CheckoutSession, LineItem, OrderStatus

    site = "https://shop.example.com/doku"
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
                "line_items": list(items),
            },
            "payment": {"payment_due_date": 60},
            "customer": {"name": order.customer_name, "email": order.customer_email},
        }
    )
    headers = signatures.signed_headers(config.secret_key, client_id=config.client_id, target=CHECKOUT, body=body)
    response = requests.post(base + CHECKOUT, data=body, headers=headers, timeout=10)
    response.raise_for_status()
    payment = response.json()["response"]["payment"]
    with transaction.atomic():
        CheckoutSession.objects.create(
            order=order,
            invoice_number=order.invoice_number,
            request_id=headers["Request-Id"],
            payment_url=payment["url"],
            token_id=payment["token_id"],
            status=CheckoutSession.Status.OPEN,
        )
        order.status = OrderStatus.PENDING
        order.save(update_fields=["status", "updated_at"])


def bench_http(
    count: int, rounds: int = 3, doku: Callable[[], contextlib.AbstractContextManager[str]] | None = None
) -> dict[str, Any]:
    """``count`` sequential links each way, in ``rounds`` alternating rounds; seconds, connections, ratio.

    ``doku`` serves DOKU and yields its base URL: the standalone simulator unless given.
    """
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext

    from django_doku_checkout import services
    from django_doku_checkout.conf import get_config

    per_round = max(1, count // rounds)
    seconds = {"ours": 0.0, "naive": 0.0}
    connections = {"ours": 0, "naive": 0}
    with (doku or standalone_simulator)() as base, override_settings(DOKU_CHECKOUT=simulator_settings(base)):
        config = get_config()
        for warm in make_orders(20, "HTTP-warm"):
            naive_link(warm, base, config)
        with counting_connections() as opened:
            for round_ in range(rounds):
                ours_orders = make_orders(per_round, f"HTTP-ours-{round_}")
                naive_orders = make_orders(per_round, f"HTTP-naive-{round_}")
                sides = [
                    ("ours", lambda orders=ours_orders: [services.create_payment_link(order) for order in orders]),
                    ("naive", lambda orders=naive_orders: [naive_link(order, base, config) for order in orders]),
                ]
                for name, run in sides if round_ % 2 == 0 else sides[::-1]:
                    before = opened["count"]
                    seconds[name] += timed(run)
                    connections[name] += opened["count"] - before
        # Round trips per link, counted apart from the timed rounds (capturing costs time).
        round_trips = {}
        for name, link in (
            ("ours", services.create_payment_link),
            ("naive", lambda order: naive_link(order, base, config)),
        ):
            counted = make_orders(10, f"HTTP-count-{name}")
            with CaptureQueriesContext(connection) as captured:
                for order in counted:
                    link(order)
            round_trips[name] = len(captured) / 10
    links = per_round * rounds
    return {
        "ours_round_trips": round_trips["ours"],
        "naive_round_trips": round_trips["naive"],
        "count": links,
        "ours_seconds": seconds["ours"],
        "naive_seconds": seconds["naive"],
        "ours_ms": seconds["ours"] / links * 1000,
        "naive_ms": seconds["naive"] / links * 1000,
        "ratio": seconds["ours"] / seconds["naive"],
        "ours_connections": connections["ours"],
        "naive_connections": connections["naive"],
    }
