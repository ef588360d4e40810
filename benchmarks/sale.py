"""Benchmark 8: a 12.12 sale at DOKU's real latency, on one app server and on two.

gunicorn serves the shop with ``processes`` × ``threads`` (``gthread``) on PostgreSQL. DOKU
is the stand-in (benchmarks/doku_standin.py, its own process): every call answered after
300 ms ± 100 ms, 1 % 503s and some calls held past the client's read timeout, each link paid
at a random moment 1 to 5 s later and notified then (DOKU's sender looks every 100 ms; the
harsher whole-second bursts are a second run). ``shoppers`` concurrent shoppers
(benchmarks/shoppers.py, their own process) open an order, click pay and come back to the
return page. With ``servers=2`` two gunicorn masters on two ports share the database, as two
machines would, and each runs ``doku_checkout_deliver`` and ``doku_checkout_reconcile``
(``--min-age 0``: every pending order, racing the notifications) in a loop during the sale.

Afterwards the database is asked what must never happen: a notification DOKU sent whose
order is not paid, an order paid twice, more than one live link for an order, a receiver
called twice for one change (or never), a deadlock PostgreSQL detected. The limit a thread pool allows is
``processes × threads × servers`` pay clicks per DOKU time of one click; the CPU's is the
cores over the CPU seconds per click of every process in the run (the servers, their
PostgreSQL backends, the stand-in and the shoppers all share this machine); the lower one
is the target's base.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from benchmarks.common import ROOT, empty_tables, make_orders
from benchmarks.server import gunicorn, worker_pids

STANDIN = ROOT / "benchmarks" / "doku_standin.py"
SHOPPERS = ROOT / "benchmarks" / "shoppers.py"
RUNNERS = ROOT / "benchmarks" / "runners.py"
#: How long the notifications still due after the last shopper may take to arrive.
DRAIN_SECONDS = 60


@contextlib.contextmanager
def doku_standin(notify: list[str], pids: list[int] | None = None, **options: float) -> Iterator[str]:
    """The stand-in in its own process (its pid added to ``pids``); its base URL.

    ``options``: latency, jitter, errors, timeouts, hang (doku_standin.py's flags).
    """
    from django.conf import settings

    from tests.servers import free_port, serving

    port = free_port()
    flags = [f"--{name}={value}" for name, value in options.items()]
    keys = settings.DOKU_CHECKOUT  # the shop's: its notifications are signed with them
    command = [
        sys.executable,
        str(STANDIN),
        "--port",
        str(port),
        "--notify",
        ",".join(notify or ["http://127.0.0.1:9"]),
    ]
    command += ["--client-id", keys["CLIENT_ID"], "--secret-key", keys["SECRET_KEY"], *flags]
    base = f"http://127.0.0.1:{port}"
    with serving(command, base) as server:
        if pids is not None:
            pids.append(server.pid)
        yield base


def instant_doku() -> contextlib.AbstractContextManager[str]:
    """The stand-in answering at once, never failing: the app's own cost per link (benchmark 2's sides)."""
    return doku_standin([], latency=0, jitter=0, errors=0, timeouts=0)


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User and system CPU seconds each process has used."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return used


def database_backends() -> list[int]:
    """The PostgreSQL server processes connected to this run's database (the servers' connections)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
        return [pid for (pid,) in cursor.fetchall()]


def deadlocks() -> int:
    """The deadlocks PostgreSQL has detected in this run's database so far."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return int(cursor.fetchone()[0])


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two readings; a process started in between counts from zero."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def thread_times(directory: Path) -> dict[str, dict[str, float]]:
    """Per step, where the servers' threads spent their time (the lines benchmarks/site/timing.py wrote).

    Medians and 99th percentiles of the time each request queued for a thread, held it and
    took until its answer was sent; means of its own CPU time, its statements' time and
    number, its database connections' and DOKU's time; and the thread seconds all of the
    step's requests held, in total.
    """
    requests_by_step: dict[str, list[dict[str, Any]]] = {}
    for file in directory.glob("*.jsonl"):
        for line in file.read_text().splitlines():
            request = json.loads(line)
            requests_by_step.setdefault(request["step"], []).append(request)
    summary = {}
    for step, timed in requests_by_step.items():
        row: dict[str, float] = {"count": len(timed), "thread_seconds": sum(r["thread_ms"] for r in timed) / 1000}
        for key in ("queued_ms", "thread_ms", "answered_ms"):
            values = sorted(r[key] for r in timed if r[key] is not None)
            if len(values) > 1:
                cuts = statistics.quantiles(values, n=100)
                row[f"{key[:-3]}_p50_ms"], row[f"{key[:-3]}_p99_ms"] = cuts[49], cuts[98]
        for key in ("thread_ms", "cpu_ms", "db_ms", "queries", "connect_ms", "doku_ms"):
            row[f"mean_{key}"] = statistics.fmean(r[key] for r in timed)
        row["mean_after_ms"] = statistics.fmean(r["thread_ms"] - r["answered_ms"] for r in timed)
        summary[step] = row
    return summary


def report_of(base: str) -> dict[str, Any]:
    return dict(requests.get(base + "/_report", timeout=30).json())


def drain(base: str) -> dict[str, Any]:
    """The stand-in's report once every notification due has been sent (at most DRAIN_SECONDS)."""
    give_up = time.monotonic() + DRAIN_SECONDS
    report = report_of(base)
    while report["notifications_to_send"] and time.monotonic() < give_up:
        time.sleep(0.5)
        report = report_of(base)
    return report


def zero_counts(standin: dict[str, Any], shoppers: dict[str, Any], deadlocked: int) -> dict[str, int]:
    """What must never happen, counted in the database after the run."""
    from django.db.models import Count

    from benchmarks.site.models import ReceiverCall
    from benchmarks.site.receivers import record
    from django_doku_checkout.models import CheckoutSession, Delivery, OrderEvent, OrderStatus
    from django_doku_checkout.services.deliveries import receiver_path

    notified = set(standin["notified"])
    paid_links = CheckoutSession.objects.filter(invoice_number__in=notified, order__status=OrderStatus.PAID)
    live = (CheckoutSession.Status.CREATING, CheckoutSession.Status.OPEN, CheckoutSession.Status.PAID)
    ours = Delivery.objects.filter(receiver=receiver_path(record))
    calls_per_delivery = ReceiverCall.objects.values("delivery_id").annotate(calls=Count("id"))
    return {
        "lost notifications": len(notified) - paid_links.count(),
        "double payments": OrderEvent.objects.filter(new_status=OrderStatus.PAID)
        .values("order_id")
        .annotate(times=Count("id"))
        .filter(times__gt=1)
        .count(),
        "5xx": sum(count for status, count in shoppers["unexpected"].items() if status.split()[-1].startswith("5"))
        + sum(count for status, count in standin["notification_statuses"].items() if status.startswith("5")),
        "orders with more than one live link": CheckoutSession.objects.filter(status__in=live)
        .values("order_id")
        .annotate(links=Count("id"))
        .filter(links__gt=1)
        .count(),
        "receiver calls twice for one change": calls_per_delivery.filter(calls__gt=1).count(),
        "changes never delivered": ours.exclude(pk__in=ReceiverCall.objects.values("delivery_id")).count(),
        "deadlocks": deadlocked,
    }


def bench_sale(
    *,
    orders: int,
    processes: int,
    threads: int,
    shoppers: int,
    servers: int = 1,
    latency: float = 0.3,
    notification_threads: int = 4,
    dispatch: float = 0.1,
    pool: bool = True,
) -> dict[str, Any]:
    """One sale; its throughput against the limits, its latencies and its zero counts.

    ``notification_threads`` above 0 serves DOKU's notifications from a pool of their own on
    each server (two processes, that many threads each), as the deployment recipe routes them; 0
    sends them to the shoppers' pool, where they wait behind pay clicks held by DOKU.
    ``dispatch``: how often DOKU's sender sends the notifications due (seconds; 1 sends each
    whole second's together, the harsher model). ``pool``: psycopg's pool in each process (as
    many connections as threads), as docs/deployment.md recommends; False: persistent
    connections (``CONN_MAX_AGE``), one per thread.
    """
    from benchmarks.site.models import ReceiverCall
    from django_doku_checkout.models import Order, OrderStatus
    from tests.servers import free_port

    standin_pids: list[int] = []
    empty_tables()
    ReceiverCall.objects.all().delete()
    public_ids = [str(order.public_id) for order in make_orders(orders, "SALE")]
    deadlocks_before = deadlocks()
    ports = [free_port() for _ in range(servers)]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    notification_ports = [free_port() for _ in range(servers)] if notification_threads else ports
    notified = [f"http://127.0.0.1:{port}" for port in notification_ports]
    with (
        doku_standin(notified, standin_pids, latency=latency, jitter=latency / 3, dispatch=dispatch) as doku,
        contextlib.ExitStack() as stack,
        tempfile.TemporaryDirectory() as scratch,
    ):
        timing = Path(scratch) / "timing"
        timing.mkdir()
        env = {"DOKU_STANDIN_URL": doku, "DATABASE_URL": os.environ["DATABASE_URL"], "DOKU_BENCH_TIMING": str(timing)}

        def served(workers: int, threads: int, port: int) -> subprocess.Popen[bytes]:
            sized = {**env, "DOKU_BENCH_POOL": str(threads)} if pool else env
            config = "python:benchmarks.site.timing"
            return stack.enter_context(gunicorn(workers=workers, threads=threads, port=port, env=sized, config=config))[
                1
            ]

        masters = [served(processes, threads, port) for port in ports]
        if notification_threads:
            masters += [served(2, notification_threads, port) for port in notification_ports]
        workers = [pid for master in masters for pid in worker_pids(master)]
        stop = Path(scratch) / "stop"
        runners = [
            subprocess.Popen(  # noqa: S603 - our own runners, one per app server
                [sys.executable, str(RUNNERS), "--stop-file", str(stop), "--max-seconds", "900"],
                cwd=ROOT,
                env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "benchmarks.site.settings"},
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in (ports if servers > 1 else [])
        ]
        listed = Path(scratch) / "orders.json"
        listed.write_text(json.dumps(public_ids))
        # The CPU bound counts every process of the run, on this machine: the servers, their
        # PostgreSQL backends, DOKU's stand-in and the shoppers (who would be elsewhere in a sale).
        cpu_before = cpu_seconds(workers + standin_pids + database_backends())
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_before = os.getloadavg()
        finished = subprocess.run(  # noqa: S603 - our own shoppers
            [sys.executable, str(SHOPPERS), str(listed), "--base", ",".join(bases), "--shoppers", str(shoppers)],
            capture_output=True,
            text=True,
            check=True,
        )
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        shoppers_cpu = children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
        servers_cpu = cpu_used(cpu_before, cpu_seconds(workers))
        run_cpu = cpu_used(cpu_before, cpu_seconds(workers + standin_pids + database_backends())) + shoppers_cpu
        load_after = os.getloadavg()
        visits = json.loads(finished.stdout)
        standin = drain(doku)
        stop.touch()
        runner_reports = [json.loads(runner.communicate(timeout=120)[0] or "{}") for runner in runners]
        threads_used = thread_times(timing)
    paid = Order.objects.filter(status=OrderStatus.PAID).count()
    clicks = visits["pay"]["count"]
    doku_per_click = standin["doku_mean_seconds"] * standin["calls"]["checkout"] / max(1, clicks)
    thread_limit = processes * threads * servers / doku_per_click if doku_per_click else 0.0
    cpu_limit = (os.cpu_count() or 1) * clicks / run_cpu if run_cpu else 0.0
    limit = min(thread_limit, cpu_limit) if cpu_limit else thread_limit
    per_second = clicks / visits["seconds"]
    # How busy the shoppers' threads were: below 100 %, requests did not wait for a thread but
    # for something else (the shoppers, gunicorn's loop handing requests to threads, the machine).
    busy = sum(threads_used.get(step, {}).get("thread_seconds", 0.0) for step in ("open", "pay", "return")) / (
        processes * threads * servers * visits["seconds"]
    )
    return {
        "orders": orders,
        "processes": processes,
        "threads": threads,
        "servers": servers,
        "shoppers": shoppers,
        "notification_threads": notification_threads,
        "latency": latency,
        "dispatch": dispatch,
        "connections": "psycopg's pool" if pool else "persistent",
        "seconds": visits["seconds"],
        "pay_per_second": per_second,
        "paid": paid,
        "doku_seconds_per_click": doku_per_click,
        "thread_limit": thread_limit,
        "cpu_limit": cpu_limit,
        "cpu_ms_per_click": {
            "servers": servers_cpu / max(1, clicks) * 1000,
            "whole run": run_cpu / max(1, clicks) * 1000,
        },
        "limit": limit,
        "ratio": per_second / limit if limit else 0.0,
        "threads_busy": busy,
        "pay": visits["pay"],
        "open": visits["open"],
        "return": visits["return"],
        "notification": {
            "p50_ms": standin["notification_p50_ms"],
            "p99_ms": standin["notification_p99_ms"],
            "max_ms": standin["notification_max_ms"],
            "count": standin["notifications_sent"],
            "largest_burst": standin["largest_burst"],
            "median_burst": standin["median_burst"],
        },
        "doku_calls": standin["calls"],
        "unexpected": visits["unexpected"],
        "notification_statuses": standin["notification_statuses"],
        "zero": zero_counts(standin, visits, deadlocks() - deadlocks_before),
        "runners": runner_reports,
        "thread_times": threads_used,
        "load": [round(value, 2) for value in (*load_before, *load_after)],
    }


def bench_sales(args: Any) -> dict[str, Any]:
    """Benchmark 8 as run.py runs it: the app's own cost against an instant DOKU, then the sale.

    On one server (DOKU's sender every 100 ms, then whole-second bursts), then on two.
    """
    from benchmarks.http_reuse import bench_http

    sizes = {
        "orders": args.sale_shop_orders,
        "processes": args.sale_processes,
        "threads": args.sale_threads,
        "shoppers": args.sale_shoppers,
    }
    started = datetime.now(UTC)
    return {
        "instant": bench_http(args.sale_links, doku=instant_doku),
        "one": bench_sale(**sizes, servers=1),
        # The harsher notification model: every one due in a second sent at once (README.md, benchmark 8).
        "bursts": bench_sale(**sizes, servers=1, dispatch=1.0),
        # The same threads split over two machines: PostgreSQL's 100 connections hold both runs.
        "two": bench_sale(**{**sizes, "threads": max(1, args.sale_threads // 2)}, servers=2),
        "when": f"{started:%Y-%m-%d %H:%M} to {datetime.now(UTC):%H:%M} UTC",
    }
