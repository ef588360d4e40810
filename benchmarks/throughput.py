"""Benchmarks 3 and 6: notifications under gunicorn on PostgreSQL, and the workers' memory."""

from __future__ import annotations

import statistics
from typing import Any

from benchmarks.common import make_orders, summary
from benchmarks.server import gunicorn, load, memory_kib, signed_notifications, worker_pids

OURS_PATH = "/doku/notification/"
FLOOR_PATH = "/floor/notification/"
WARM_UP = 300


def paid_count(prefix: str) -> int:
    from django_doku_checkout.models import Order, OrderStatus

    return Order.objects.filter(invoice_number__startswith=f"{prefix}-", status=OrderStatus.PAID).count()


def bench_throughput(repeats: int, count: int, concurrency: int) -> dict[str, Any]:
    """``count`` distinct notifications to the app's endpoint and to the floor, ``repeats`` times each."""
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "floor": []}
    endpoints = [("ours", OURS_PATH), ("floor", FLOOR_PATH)]
    with gunicorn(workers=2) as (port, _server):
        for name, path in endpoints:  # warm both up: imports, connections, caches
            warm = make_orders(WARM_UP, f"TP-warm-{name}", with_links=True)
            load(port, signed_notifications([order.invoice_number for order in warm], path), concurrency=concurrency)
        for repeat in range(repeats):
            # Alternate which goes first, so neither always meets a fresher database.
            for name, path in endpoints if repeat % 2 == 0 else endpoints[::-1]:
                prefix = f"TP-{name}-{repeat}"
                orders = make_orders(count, prefix, with_links=True)
                requests = signed_notifications([order.invoice_number for order in orders], path)
                report = load(port, requests, concurrency=concurrency)
                report["paid"] = paid_count(prefix)
                runs[name].append(report)
    ours, floor = runs["ours"], runs["floor"]
    return {
        "count": count,
        "repeats": repeats,
        "concurrency": concurrency,
        **{
            f"{name}_{figure}": summary([run[figure] for run in runs[name]])
            for name in runs
            for figure in ("per_second", "p50_ms", "p99_ms")
        },
        "ours_errors": sum(run["errors"] for run in ours),
        "floor_errors": sum(run["errors"] for run in floor),
        "ours_unpaid": sum(count - run["paid"] for run in ours),
        "floor_unpaid": sum(count - run["paid"] for run in floor),
        "ratio": statistics.median(r["per_second"] for r in ours) / statistics.median(r["per_second"] for r in floor),
    }


def bench_memory(first: int, total: int) -> dict[str, Any]:
    """Peak resident memory of each gunicorn worker after ``first`` and after ``total`` notifications."""
    orders = make_orders(total, "MEM", with_links=True)
    requests = signed_notifications([order.invoice_number for order in orders], OURS_PATH)
    with gunicorn(workers=2) as (port, server):
        workers = worker_pids(server)
        early = load(port, requests[:first])
        after_first = {pid: memory_kib(pid) for pid in workers}
        late = load(port, requests[first:])
        after_total = {pid: memory_kib(pid) for pid in workers}
    return {
        "first": first,
        "total": total,
        "errors": early["errors"] + late["errors"],
        "workers": [{"pid": pid, "after_first": after_first[pid], "after_total": after_total[pid]} for pid in workers],
        "growth_kib": max(after_total[pid]["peak"] - after_first[pid]["peak"] for pid in workers),
    }
