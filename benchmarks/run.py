"""Benchmarks: what the app adds on top of the minimum its work needs, measured in one run.

    .venv/bin/python benchmarks/run.py [--database postgres://...] [--repeats 7]

Writes benchmarks/RESULTS.md. Every figure is a median over repeated runs with min and max,
and is compared with its floor measured in the same run (absolute times drift on shared
machines; ratios hold). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "RESULTS.md"


def setup_django(database_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["DATABASE_URL"] = database_url
    import django

    django.setup()
    from django.db import connection

    connection.creation.create_test_db(verbosity=0, autoclobber=True)


def timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


# --- 1. link creation overhead vs the floor ---------------------------------------------------------


def make_orders(count: int, prefix: str) -> list[Any]:
    from django_doku_checkout.models import LineItem, Order

    orders = Order.objects.bulk_create(
        Order(invoice_number=f"{prefix}-{index}", amount=240_000, customer_name="Siti", customer_email="s@example.com")
        for index in range(count)
    )
    LineItem.objects.bulk_create(
        LineItem(order=order, name=name, price=price, quantity=quantity)
        for order in orders
        for name, price, quantity in (("Batik shirt", 150_000, 1), ("Kopi Toraja", 45_000, 2))
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


def bench_link_creation(repeats: int, per_run: int) -> dict[str, Any]:
    from django.db import transaction

    from django_doku_checkout import payloads, services, signatures
    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.conf import get_config
    from django_doku_checkout.models import CheckoutSession, OrderEvent, OrderStatus

    DokuClient.transport_adapter = InstantDoku()
    client = DokuClient()
    config = get_config()
    ours, floor = [], []
    for run in range(repeats):
        orders = make_orders(per_run, f"OURS-{run}")

        def with_the_app(orders: list[Any] = orders) -> None:
            for order in orders:
                services.create_payment_link(order, client=client)

        ours.append(timed(with_the_app) / per_run)
        floor_orders = make_orders(per_run, f"FLOOR-{run}")

        def floor_work(orders: list[Any] = floor_orders) -> None:
            # The minimum: one body serialized and signed, the same rows written with plain ORM calls.
            for order in orders:
                body = payloads.encode_body({"order": {"invoice_number": order.invoice_number, "amount": order.amount}})
                signatures.sign(
                    config.secret_key,
                    client_id=config.client_id,
                    request_id="r",
                    timestamp="2026-01-01T00:00:00Z",
                    target="/checkout/v1/payment",
                    body=body,
                )
                with transaction.atomic():
                    CheckoutSession.objects.create(
                        order=order,
                        invoice_number=order.invoice_number,
                        request_id=f"req-{order.invoice_number}",
                        payment_url="https://sandbox.doku.com/checkout-link-v2/t",
                    )
                    order.status = OrderStatus.PENDING
                    order.save(update_fields=["status", "updated_at"])
                    OrderEvent.objects.create(order=order, old_status="created", new_status="pending", source="shopper")

        floor.append(timed(floor_work) / per_run)
    DokuClient.transport_adapter = None
    return {"ours": summary(ours), "floor": summary(floor), "ratio": statistics.median(ours) / statistics.median(floor)}


# --- 2. link creation over HTTP: connection reuse ----------------------------------------------------


def bench_http(count: int) -> dict[str, Any]:
    import urllib3.connectionpool

    from django_doku_checkout import payloads, signatures
    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.conf import get_config
    from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY
    from tests.conftest import free_port, wait_until_serving

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own simulator
        [sys.executable, "-m", "django_doku_checkout.simulator", "--port", str(port)]
        + ["--client-id", CLIENT_ID, "--secret-key", SECRET_KEY],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": ""},
    )
    base = f"http://127.0.0.1:{port}"
    opened = {"count": 0}
    original = urllib3.connectionpool.HTTPConnectionPool._new_conn

    def counting(self: Any) -> Any:
        opened["count"] += 1
        return original(self)

    urllib3.connectionpool.HTTPConnectionPool._new_conn = counting  # type: ignore[method-assign]
    try:
        wait_until_serving(base)
        from django.conf import settings

        settings.DOKU_CHECKOUT = {
            "CLIENT_ID": CLIENT_ID,
            "SECRET_KEY": SECRET_KEY,
            "ENVIRONMENT": "simulator",
            "API_BASE_URL": base,
            "SITE_URL": "https://shop.example.com",
        }
        config = get_config()

        def body(index: int, kind: str) -> dict[str, Any]:
            return payloads.build_checkout_body(
                payloads.CheckoutData(
                    invoice_number=f"HTTP-{kind}-{index}-{time.monotonic_ns()}",
                    amount=20_000,
                    line_items=[payloads.LineItemData(name="Kopi", price=20_000, quantity=1)],
                    callback_url="https://shop.example.com/r/",
                )
            )

        client = DokuClient()
        opened["count"] = 0
        ours = timed(lambda: [client.create_checkout_payment(body(i, "ours")) for i in range(count)])
        ours_connections = opened["count"]

        def naive_one(index: int) -> None:
            data = payloads.encode_body(body(index, "naive"))
            headers = signatures.signed_headers(
                config.secret_key, client_id=config.client_id, target="/checkout/v1/payment", body=data
            )
            requests.post(base + "/checkout/v1/payment", data=data, headers=headers, timeout=10).raise_for_status()

        opened["count"] = 0
        naive = timed(lambda: [naive_one(i) for i in range(count)])
        naive_connections = opened["count"]
    finally:
        urllib3.connectionpool.HTTPConnectionPool._new_conn = original  # type: ignore[method-assign]
        server.terminate()
        server.wait(timeout=10)
    return {
        "count": count,
        "ours_seconds": ours,
        "naive_seconds": naive,
        "ratio": ours / naive,
        "ours_connections": ours_connections,
        "naive_connections": naive_connections,
    }


# --- 4. queries per request --------------------------------------------------------------------------


def bench_queries() -> dict[str, int]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.urls import reverse

    from django_doku_checkout import signatures
    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.conf import get_config
    from django_doku_checkout.models import CheckoutSession, Order
    from django_doku_checkout.payloads import encode_body

    setup_test_environment()
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
    session = order.checkout_sessions.get()
    config = get_config()
    body = encode_body(
        {
            "order": {"invoice_number": session.invoice_number, "amount": order.amount},
            "transaction": {"status": "SUCCESS"},
            "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
        }
    )
    headers = signatures.signed_headers(
        config.secret_key, client_id=config.client_id, target=reverse("doku_checkout:notification"), body=body
    )
    counts["notification (SUCCESS)"] = queries(
        lambda: client.post(
            reverse("doku_checkout:notification"), data=body, content_type="application/json", headers=headers
        )
    )
    counts["return page (paid order)"] = queries(
        lambda: client.get(reverse("doku_checkout:return", args=[order.public_id]))
    )
    admin = User.objects.create_superuser("bench", "b@example.com", "x")
    client.force_login(admin)
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    for total in (10, 10_000):
        missing = total - Order.objects.count()
        if missing > 0:
            extra = make_orders(missing, f"Q-LIST-{total}")
            CheckoutSession.objects.bulk_create(
                CheckoutSession(
                    order=each,
                    invoice_number=each.invoice_number,
                    request_id=f"q-{each.invoice_number}",
                    payment_url="https://sandbox.doku.com/checkout-link-v2/t",
                )
                for each in extra
            )
        counts[f"admin order changelist, {total:,} orders"] = queries(lambda: client.get(changelist))
    DokuClient.transport_adapter = None
    return counts


# --- the report -----------------------------------------------------------------------------------


def milliseconds(figures: dict[str, float]) -> str:
    return f"{figures['median'] * 1000:.2f} ms (min {figures['min'] * 1000:.2f}, max {figures['max'] * 1000:.2f})"


def write_results(database: str, results: dict[str, Any]) -> None:
    link = results["link_creation"]
    http = results["http"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node() or 'unknown'}: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"database {database.split(':', 1)[0]}. Produced by `benchmarks/run.py`; every ratio compares figures "
        "from this same run.",
        "",
        "## 1. Link creation overhead",
        "",
        "`services.create_payment_link` with DOKU answering instantly in-process, against the floor "
        "(serialize and sign one body, write the same session, order and event rows with plain ORM calls).",
        "",
        "| | per link |",
        "|---|---|",
        f"| `create_payment_link` | {milliseconds(link['ours'])} |",
        f"| floor | {milliseconds(link['floor'])} |",
        f"| **ratio** (target ≤ 1.5×) | **{link['ratio']:.2f}×** |",
        "",
        "## 2. Link creation over HTTP",
        "",
        f"{http['count']} sequential Checkout calls to the standalone simulator over loopback.",
        "",
        "| | total | connections opened |",
        "|---|---|---|",
        f"| `DokuClient` (one session, keep-alive) | {http['ours_seconds']:.2f} s | {http['ours_connections']} |",
        f"| naive `requests.post` per link | {http['naive_seconds']:.2f} s | {http['naive_connections']} |",
        f"| **ratio** (target < 1) | **{http['ratio']:.2f}×** | |",
        "",
        "## 4. Queries per request",
        "",
        "| request | queries |",
        "|---|---|",
        *[f"| {name} | {count} |" for name, count in results["queries"].items()],
        "",
        "## Status",
        "",
        "Compare each ratio with its target above; a target that is not met is explained in issue 7's notes.",
        "",
        "## Not measured yet",
        "",
        "3 (notification throughput under gunicorn on PostgreSQL), 5 (scaling to 1M orders) and "
        "6 (worker memory) are still to be written; see issue 7.",
        "",
    ]
    RESULTS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("DOKU_TEST_POSTGRES_URL", "sqlite:///:memory:"))
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--links", type=int, default=100, help="links per repeat for benchmark 1")
    parser.add_argument("--http-links", type=int, default=500)
    args = parser.parse_args()
    setup_django(args.database)
    results = {
        "link_creation": bench_link_creation(args.repeats, args.links),
        "http": bench_http(args.http_links),
        "queries": bench_queries(),
    }
    write_results(args.database, results)
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
