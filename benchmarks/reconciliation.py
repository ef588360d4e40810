"""Benchmark 7: reconciliation at flash-sale scale.

Thousands of orders are pending at once, each with an open link, after DOKU's
notifications failed during a sale. ``manage.py doku_checkout_reconcile`` asks the
standalone simulator, which answers each request after ``latency`` seconds, about all of
them. One at a time that would take ``orders × latency``.
"""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

import requests

from benchmarks.common import empty_tables, make_orders
from benchmarks.http_reuse import simulator_settings, standalone_simulator


def _set_latency(base: str, seconds: float) -> None:
    """Every answer of the simulator waits ``seconds`` (its control endpoint, with its CSRF token)."""
    control = requests.Session()
    control.get(base + "/", timeout=10)
    token = control.cookies.get("csrftoken", "")
    answer = control.post(
        base + "/_control/faults/", json={"latency": seconds}, headers={"X-CSRFToken": token}, timeout=10
    )
    answer.raise_for_status()


def bench_reconciliation(orders: int, workers: int, latency: float) -> dict[str, Any]:
    from django.core.management import call_command
    from django.test import override_settings

    from django_doku_checkout.models import Order, OrderStatus

    empty_tables()
    make_orders(orders, "SALE", with_links=True)
    out, err = StringIO(), StringIO()
    with standalone_simulator() as base, override_settings(DOKU_CHECKOUT=simulator_settings(base)):
        _set_latency(base, latency)
        started = time.perf_counter()
        call_command("doku_checkout_reconcile", "--min-age", "0", "--workers", str(workers), stdout=out, stderr=err)
        seconds = time.perf_counter() - started
    lines = out.getvalue().splitlines()
    return {
        "orders": orders,
        "workers": workers,
        "latency": latency,
        "seconds": seconds,
        "sequential_seconds": orders * latency,
        "checked": sum(1 for line in lines if ": unchanged (" in line or ": changed (" in line),
        "failed": sum(1 for line in lines if ": failed (" in line),
        "summary": lines[-1] if lines else "",
        "progress": [line for line in err.getvalue().splitlines() if line.startswith("Progress:")][-3:],
        "claims_left": Order.objects.filter(status_check_claimed_until__isnull=False).count(),
        "pending_left": Order.objects.filter(status=OrderStatus.PENDING).count(),
    }
