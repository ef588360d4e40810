"""Benchmark 5: pay and notification latency, and the payments dashboard's, as the shop's tables grow to a million orders.

The older orders are written straight into PostgreSQL with ``generate_series``: each is
paid, with a line item, a link, its notification and two history events, and one in
a hundred partly refunded, as a real shop's history would be (one paid a minute, so a million orders reach two years back and
the dashboard's last 30 days hold 43,200 of them). The plans of the lookups, and of the
dashboard's queries, are shown with ``EXPLAIN ANALYZE``.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.common import InstantDoku, empty_tables, make_orders, summary
from benchmarks.server import post_in_process, signed_notifications


def _tables() -> dict[str, str]:
    from django_doku_checkout.models import CheckoutSession, LineItem, Notification, Order, OrderEvent, Refund

    models = (Order, LineItem, CheckoutSession, Notification, OrderEvent, Refund)
    return {model.__name__: model._meta.db_table for model in models}


def grow_history(first: int, last: int) -> None:
    """Add paid orders number ``first`` to ``last - 1``, with everything a paid order leaves behind."""
    from django.db import connection

    table = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(id), 0) FROM {table['Order']}")  # noqa: S608 - our own table names
        newer_than = cursor.fetchone()[0]
        cursor.execute(
            f"""INSERT INTO {table["Order"]} (public_id, invoice_number, amount, currency, status, customer_id,
                customer_name, customer_last_name, customer_email, customer_phone, customer_address, customer_city,
                customer_state, customer_postcode, customer_country, shipping_address, billing_address,
                payment_method_types, needs_review, review_reason, paid_at, created_at, updated_at, reference,
                metadata, allow_tenor, sub_account_id, split_rule_id)
            SELECT gen_random_uuid(), 'HIST-' || n, 240000, 'IDR', 'paid', '', 'Pelanggan ' || n, '',
                'p' || n || '@example.com', '0812' || lpad(n::text, 8, '0'), '', '', '', '', '', '{{}}', '{{}}', '[]',
                false, '', now() - n * interval '1 minute', now() - n * interval '1 minute' - interval '5 minutes',
                now() - n * interval '1 minute', '', '{{}}', '[]', '', ''
            FROM generate_series(%s, %s) AS n""",  # noqa: S608
            [first, last - 1],
        )
        cursor.execute(
            f"""INSERT INTO {table["LineItem"]} (item_id, name, price, quantity, sku, category, url, image_url,
                item_type, order_id)
            SELECT '', 'Batik shirt', amount, 1, 'BTK-1', '', '', '', '', id FROM {table["Order"]} WHERE id > %s""",  # noqa: S608
            [newer_than],
        )
        cursor.execute(
            f"""INSERT INTO {table["CheckoutSession"]} (kind, status, invoice_number, request_id, token_id,
                payment_url, expires_at, payment_channel, last_transaction_status, error_message, request_body,
                response_body, created_at, updated_at, order_id, original_request_id, request_payload,
                doku_cancel_error, cancel_request_id, cancel_request_payload)
            SELECT 'checkout', 'paid', invoice_number, 'hist-' || id, '', 'https://sandbox.doku.com/checkout-link-v2/t',
                created_at + interval '1 hour', 'VIRTUAL_ACCOUNT_BCA', 'SUCCESS', '', '{{}}', '{{}}', created_at,
                paid_at, id, 'hist-' || id, '', '', '', ''
            FROM {table["Order"]} WHERE id > %s""",  # noqa: S608
            [newer_than],
        )
        cursor.execute(  # the link that paid each order: the dashboard's channels are read through it
            f"""UPDATE {table["Order"]} AS o SET paid_link_id = s.id FROM {table["CheckoutSession"]} AS s
            WHERE s.order_id = o.id AND o.id > %s""",  # noqa: S608
            [newer_than],
        )
        cursor.execute(
            f"""INSERT INTO {table["Notification"]} (received_at, request_id, client_id, path, headers, body,
                signature_valid, invoice_number, transaction_status, outcome, detail, processed_at,
                checkout_session_id, order_id, body_length, body_sha256)
            SELECT updated_at, 'hist-n-' || id, 'MCH-0001', '/doku/notification/', '{{}}', '{{}}', true,
                invoice_number, 'SUCCESS', 'processed', 'SUCCESS: processed', updated_at, id, order_id, 2,
                '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
            FROM {table["CheckoutSession"]} WHERE order_id > %s""",  # noqa: S608
            [newer_than],
        )
        cursor.execute(  # one order in a hundred partly refunded, recorded from DOKU's back office
            f"""INSERT INTO {table["Refund"]} (order_id, checkout_session_id, amount, reason, method, status,
                request_id, request_payload, refund_type, doku_reference, response_body, error_message,
                created_at, updated_at, completed_at)
            SELECT order_id, id, 10000, '', 'manual', 'succeeded', 'hist-r-' || id, '', '', '', '{{}}', '',
                updated_at, updated_at, updated_at
            FROM {table["CheckoutSession"]} WHERE order_id > %s AND order_id %% 100 = 0""",  # noqa: S608
            [newer_than],
        )
        cursor.execute(
            f"""INSERT INTO {table["OrderEvent"]} (old_status, new_status, source, note, created_at, order_id)
            SELECT 'created', 'pending', 'shopper', '', created_at, id FROM {table["Order"]} WHERE id > %s
            UNION ALL
            SELECT 'pending', 'paid', 'notification', '', paid_at, id FROM {table["Order"]} WHERE id > %s""",  # noqa: S608
            [newer_than, newer_than],
        )
        for name in table.values():
            cursor.execute(f"ANALYZE {name}")


def expect(response: Any, status: int) -> None:
    """A timed request that went wrong would make its figure meaningless: stop the run."""
    if response.status_code != status:
        raise RuntimeError(f"expected HTTP {status}, got {response.status_code}: {response.content[:300]!r}")


#: Times the dashboard is loaded per size and round: it reads aggregates, not one order.
DASHBOARD_LOADS = 3


def _staff_client() -> Any:
    """A test client logged in as a superuser of the admin (made the first time)."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench-staff", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def _dashboard(loads: int) -> list[float]:
    """The payments dashboard's page, timed ``loads`` times (each renders every panel afresh)."""
    from django.urls import reverse

    client = _staff_client()
    url = reverse("admin:django_doku_checkout_paymentsdashboard_changelist")
    times = []
    for _ in range(loads):
        started = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - started)
        expect(response, 200)
    return times


def _latencies(size: int, sample: int, round_: int = 0) -> dict[str, list[float]]:
    """Pay (create path) and notification for ``sample`` new orders, timed one request at a time, and the dashboard."""
    from django.test import Client
    from django.urls import reverse

    client = Client()
    orders = make_orders(sample, f"SCALE-{size}-{round_}")
    pay, notify = [], []
    for order in orders:
        started = time.perf_counter()
        response = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
        pay.append(time.perf_counter() - started)
        expect(response, 302)
    path = reverse("doku_checkout:notification")
    for prepared in signed_notifications([order.invoice_number for order in orders], path):
        started = time.perf_counter()
        response = post_in_process(client, prepared)
        notify.append(time.perf_counter() - started)
        expect(response, 200)
    return {"pay": pay, "notification": notify, "dashboard": _dashboard(DASHBOARD_LOADS)}


def explain_lookups() -> list[dict[str, str]]:
    """``EXPLAIN ANALYZE`` of every lookup (SELECT, and the WITH statements that lock and read) of one pay and one notification run, rolled back after."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    [order] = make_orders(1, "EXPLAIN")
    client = Client()
    with CaptureQueriesContext(connection) as captured:
        client.post(reverse("doku_checkout:pay", args=[order.public_id]))
        path = reverse("doku_checkout:notification")
        [prepared] = signed_notifications([order.invoice_number], path)
        post_in_process(client, prepared)
    return _plans(captured.captured_queries)


def explain_dashboard() -> list[dict[str, str]]:
    """``EXPLAIN ANALYZE`` of the payments dashboard's queries (the admin's session and user lookups left out)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        _dashboard(1)
    return _plans([query for query in captured.captured_queries if "django_doku_checkout_" in query["sql"]])


def _plans(queries: list[dict[str, str]]) -> list[dict[str, str]]:
    from django.db import connection, transaction

    plans = []
    for query in queries:
        sql = query["sql"]
        # The lookups: SELECTs, and on PostgreSQL the statements that lock rows they find by a key.
        if not (sql.lstrip().startswith("SELECT") or (sql.lstrip().startswith("WITH") and "FOR NO KEY UPDATE" in sql)):
            continue
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
        plans.append({"sql": sql, "plan": plan})
    return plans


def _use_database(name: str) -> None:
    """Point Django's connection at another database of the same server."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = name


def _copy_database(source: str, copy: str) -> None:
    """``copy`` as a snapshot of ``source``, taken while nobody is connected to it."""
    from django.db import connection

    _use_database("postgres")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{copy}"')
        cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
    _use_database(source)


def bench_scaling(sizes: list[int], sample: int, rounds: int = 3) -> dict[str, Any]:
    """Latency at each table size, the ratio of the largest to the smallest, and the plans at the largest.

    Each size is a database of its own (the smaller ones are snapshots taken while the
    history grew), and the sizes are measured in ``rounds`` interleaved rounds, in a
    different order each round: a machine that slows down for a minute then slows every
    size alike, instead of looking like growth.
    """
    from django.db import connection

    from django_doku_checkout.client import DokuClient
    from django_doku_checkout.models import Order

    main = connection.settings_dict["NAME"]
    databases = {size: f"{main}_{size}" for size in sizes[:-1]} | {sizes[-1]: main}
    DokuClient.transport_adapter = InstantDoku()
    empty_tables()
    try:
        for size in sizes:
            present = Order.objects.count()
            if present < size:
                started = time.perf_counter()
                grow_history(present, size)
                print(f"  history grown to {size:,} orders in {time.perf_counter() - started:.0f} s", flush=True)
            if databases[size] != main:
                _copy_database(main, databases[size])
        timings: dict[int, dict[str, list[float]]] = {
            size: {"pay": [], "notification": [], "dashboard": []} for size in sizes
        }
        counts = {}
        for round_ in range(rounds):
            order = sizes[round_ % len(sizes) :] + sizes[: round_ % len(sizes)]
            for size in order if round_ % 2 == 0 else order[::-1]:
                _use_database(databases[size])
                counts[size] = Order.objects.count()
                for name, samples in _latencies(size, max(1, sample // rounds), round_).items():
                    timings[size][name].extend(samples)
        _use_database(main)
        plans = explain_lookups()
        dashboard_plans = explain_dashboard()
    finally:
        DokuClient.transport_adapter = None
        _use_database(main)
        for name in databases.values():
            if name != main:
                _use_database("postgres")
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
        _use_database(main)
    rows: list[dict[str, Any]] = [
        {
            "size": size,
            "orders": counts[size],
            "dashboard_loads": len(timings[size]["dashboard"]),
            **{name: summary(values) for name, values in timings[size].items()},
        }
        for size in sizes
    ]
    first, last = rows[0], rows[-1]
    return {
        "sample": sample,
        "rounds": rounds,
        "rows": rows,
        "pay_ratio": last["pay"]["median"] / first["pay"]["median"],
        "notification_ratio": last["notification"]["median"] / first["notification"]["median"],
        "dashboard_ratio": last["dashboard"]["median"] / first["dashboard"]["median"],
        "plans": plans,
        "dashboard_plans": dashboard_plans,
        "seq_scans": [plan["sql"][:80] for plan in plans + dashboard_plans if "Seq Scan" in plan["plan"]],
    }
