"""Writes benchmarks/RESULTS.md from one run's figures."""

from __future__ import annotations

import argparse
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def _machine() -> str:
    import django
    from django.db import connection

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.machine(),
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {memory_kib / 1024 / 1024:.0f} GiB; Python {platform.python_version()}, "
        f"Django {django.get_version()}, PostgreSQL {postgres}"
    )


def ms(figures: dict[str, float], scale: float = 1000) -> str:
    return f"{figures['median'] * scale:.2f} ms (min {figures['min'] * scale:.2f}, max {figures['max'] * scale:.2f})"


def plain(figures: dict[str, float], unit: str = "") -> str:
    return f"{figures['median']:.1f}{unit} (min {figures['min']:.1f}, max {figures['max']:.1f})"


def verdict(met: bool) -> str:
    return "met" if met else "**not met**"


def _summary(results: dict[str, Any]) -> list[str]:
    link, http, load = results["link_creation"], results["http"], results["throughput"]
    scaling, memory, queries = results["scaling"], results["memory"], results["queries"]
    changelists = [count for name, count in queries.items() if name.startswith("admin order changelist")]
    growth_mib = memory["growth_kib"] / 1024
    sale = results["reconciliation"]
    rows = [
        (
            "1. link creation overhead (default path)",
            f"{link['ratio']:.2f}× the floor",
            "≤ 1.5×",
            link["ratio"] <= 1.5,
        ),
        (
            "2. links over HTTP (default path)",
            f"{http['ratio']:.2f}× the naive integration; {http['ours_connections']} connection(s) for "
            f"{http['count']} links (naive: {http['naive_connections']})",
            "≤ 1.5×; 1 connection",
            http["ratio"] <= 1.5 and http["ours_connections"] == 1,
        ),
        (
            "3. notification throughput",
            f"{load['ratio']:.2f}× the floor, {load['ours_errors']} errors",
            "≥ 0.5×, 0 errors",
            load["ratio"] >= 0.5 and load["ours_errors"] == 0 and load["ours_unpaid"] == 0,
        ),
        (
            "4. queries per request",
            f"changelist {changelists[0]} and {changelists[-1]} queries",
            "same for 10 and 10,000 orders",
            len(set(changelists)) == 1,
        ),
        (
            "5. scaling to the largest table",
            f"pay {scaling['pay_ratio']:.2f}×, notification {scaling['notification_ratio']:.2f}×, "
            f"{len(scaling['seq_scans'])} sequential scans",
            "≤ 1.3×, none",
            max(scaling["pay_ratio"], scaling["notification_ratio"]) <= 1.3 and not scaling["seq_scans"],
        ),
        ("6. worker memory", f"peak grew {growth_mib:.1f} MiB", "no growth beyond noise (< 5 MiB)", growth_mib < 5),
        (
            "7. reconciliation at sale scale",
            f"{sale['orders']:,} orders in {sale['seconds']:.0f} s, {sale['failed']} failed",
            "≤ 60 s, none failed",
            sale["seconds"] <= 60 and sale["failed"] == 0 and sale["checked"] == sale["orders"],
        ),
    ]
    if "sale" in results:
        rows += sale_rows(results["sale"])
    return [
        "| benchmark | this run | target | |",
        "|---|---|---|---|",
        *[f"| {name} | {figure} | {target} | {verdict(met)} |" for name, figure, target, met in rows],
    ]


def sale_rows(sale: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """Benchmark 8's lines of the summary: throughput, notifications, zero counts, own cost."""
    one, two, instant = sale["one"], sale["two"], sale["instant"]
    zeros = {name: one["zero"][name] + two["zero"][name] for name in one["zero"]}
    return [
        (
            "8. a sale at DOKU's latency: pay clicks",
            f"{one['ratio']:.2f}× the limit on one server, {two['ratio']:.2f}× on two",
            "≥ 0.9×",
            min(one["ratio"], two["ratio"]) >= 0.9,
        ),
        (
            "8. a sale: notification p99",
            f"{one['notification']['p99_ms']:.0f} ms on one server, {two['notification']['p99_ms']:.0f} ms on two"
            + (
                f" (whole-second bursts, the harsher model: {sale['bursts']['notification']['p99_ms']:.0f} ms)"
                if "bursts" in sale
                else ""
            ),
            "≤ 100 ms",
            max(one["notification"]["p99_ms"], two["notification"]["p99_ms"]) <= 100,
        ),
        (
            "8. a sale: what must never happen",
            ", ".join(f"{name} {count}" for name, count in zeros.items()),
            "all 0",
            not any(zeros.values()),
        ),
        (
            "8. own cost against an instant DOKU",
            f"{instant['ratio']:.2f}× the hand-rolled integration per link",
            "≤ 2×",
            instant["ratio"] <= 2,
        ),
    ]


def limited_by(run: dict[str, Any]) -> str:
    """Which limit was the lower one, in words."""
    if run["cpu_limit"] and run["cpu_limit"] < run["thread_limit"]:
        return "the CPU: the machine ran out of cores before the threads ran out waiting for DOKU"
    return "the threads waiting for DOKU (processes × threads ÷ DOKU's time per click)"


def visit_thread_ms(run: dict[str, Any]) -> float:
    """The thread time one shopper's visit holds in the shoppers' pool: order page, pay click, return page."""
    used = run.get("thread_times", {})
    return float(sum(used[step]["mean_thread_ms"] for step in ("open", "pay", "return") if step in used))


def _thread_rows(run: dict[str, Any]) -> list[str]:
    """Where the servers' threads spent their time, per step (benchmarks/site/timing.py)."""
    used = run.get("thread_times", {})
    if not used:
        return []
    rows = []
    for step, label in (
        ("open", "open order"),
        ("pay", "pay"),
        ("return", "return page"),
        ("notification", "notification"),
    ):
        if step not in used:
            continue
        row = used[step]
        rows.append(
            f"| thread time, {label}: mean (p50 queued for a thread) | {row['mean_thread_ms']:.1f} ms "
            f"({row.get('queued_p50_ms', 0):.0f} ms): DOKU {row['mean_doku_ms']:.1f}, PostgreSQL "
            f"{row['mean_db_ms']:.1f} in {row['mean_queries']:.0f} statements, own CPU {row['mean_cpu_ms']:.1f}, "
            f"after the answer (receivers) {row.get('mean_after_ms', 0):.1f} |"
        )
    visit = visit_thread_ms(run)
    if "threads_busy" in run:
        rows.append(f"| the shoppers' threads busy (thread time ÷ threads × the run) | {run['threads_busy']:.0%} |")
    if visit:
        threads = run["processes"] * run["threads"] * run["servers"]
        rows.append(
            f"| the shoppers' threads per visit (order page, pay, return page) | {visit:.0f} ms, of it DOKU "
            f"{used['pay']['mean_doku_ms']:.0f} ms: counting them, the limit would be {threads} threads ÷ "
            f"{visit:.0f} ms = {threads / visit * 1000:.1f} a second |"
        )
    return rows


def _dispatch(run: dict[str, Any]) -> str:
    """How DOKU's sender sent the run's notifications, in words."""
    every = run.get("dispatch", 1.0)
    if every >= 1:
        return "in whole-second bursts (each due sent at the next whole second)"
    return f"as each payment completed (DOKU's sender looking every {every * 1000:.0f} ms)"


def _sale_run(name: str, run: dict[str, Any]) -> list[str]:
    def step(figures: dict[str, float]) -> str:
        return f"{figures['p50_ms']:.0f} ms / {figures['p99_ms']:.0f} ms"

    calls = run["doku_calls"]
    return [
        f"| **{name}** | {run['servers']} × {run['processes']} processes × {run['threads']} threads, "
        f"{run['shoppers']} shoppers, {run['orders']:,} orders; database connections: "
        f"{run.get('connections', 'persistent')} |",
        f"| pay clicks a second | **{run['pay_per_second']:.1f}** in {run['seconds']:.0f} s; {run['paid']:,} orders paid |",
        f"| the limit: threads ÷ DOKU's time per click ({run['doku_seconds_per_click'] * 1000:.0f} ms) "
        f"| {run['thread_limit']:.1f} a second |",
        f"| the limit: the machine's CPU ({run['cpu_ms_per_click']['whole run']:.0f} ms of CPU per click for the "
        f"whole run, {run['cpu_ms_per_click']['servers']:.0f} ms of it in the app servers) | "
        f"{run['cpu_limit']:.1f} a second |",
        f"| what limited throughput | {limited_by(run)} |",
        f"| **ratio to the limit** | **{run['ratio']:.2f}×** |",
        *_thread_rows(run),
        f"| open order, p50 / p99 | {step(run['open'])} |",
        f"| pay, p50 / p99 | {step(run['pay'])} |",
        f"| return page, p50 / p99 | {step(run['return'])} |",
        f"| notification, p50 / p99 (max) | {step(run['notification'])} ({run['notification']['max_ms']:.0f} ms), "
        f"{run['notification']['count']:,} sent {_dispatch(run)}, {run['notification'].get('median_burst', 0):g} "
        f"(median) to {run['notification'].get('largest_burst', 0)} at once |",
        f"| DOKU's calls | {calls['checkout']:,} Checkout, {calls['status']:,} status; {calls['errors_503']} answered 503, "
        f"{calls['held']} held past the read timeout, {calls['replayed']} replayed (409) |",
        *[f"| {zero} | {count} |" for zero, count in run["zero"].items()],
        f"| runners (deliver + reconcile) | {', '.join(json.dumps(r) for r in run['runners']) or 'none'} |",
        f"| load average before / after | {' '.join(map(str, run['load'][:3]))} / {' '.join(map(str, run['load'][3:]))} |",
    ]


def _sale(sale: dict[str, Any]) -> list[str]:
    instant = sale["instant"]
    return [
        "## 8. A sale at DOKU's latency",
        "",
        (f"Run {sale['when']}. " if "when" in sale else "")
        + "gunicorn's `gthread` workers on PostgreSQL; DOKU is `doku_standin.py` in its own process (300 ms ± 100 ms, "
        "1 % 503s, 0.5 % held 3 s past the 2 s read timeout, each link paid at a random moment 1 to 5 s after it "
        "and notified then, DOKU's sender looking every 100 ms; the harsher run sends every notification due in a "
        "second at once); the shoppers (`shoppers.py`, their own process) open the shop's order "
        "page, click pay and come back to the return page. DOKU's notifications go to a pool of their own "
        f"(2 processes × {sale['one']['notification_threads']} threads per server), as docs/deployment.md routes them. "
        "The two-server run has two gunicorn masters on two ports, each with `doku_checkout_deliver` and "
        "`doku_checkout_reconcile --min-age 0` running in a loop. The zero counts are read from the database "
        "after the run. Thread time is measured in the servers by gunicorn's request hooks "
        "(`benchmarks/site/timing.py`): from the moment a thread takes the request up to the end of the work "
        "deferred after its answer; queued is from the moment the client sent it.",
        "",
        "| | |",
        "|---|---|",
        *_sale_run("one server", sale["one"]),
        *(_sale_run("one server, whole-second bursts", sale["bursts"]) if "bursts" in sale else []),
        *_sale_run("two servers", sale["two"]),
        "",
        f"The app's own cost against an instant DOKU (the stand-in answering at once, over loopback HTTP), "
        f"{instant['count']} sequential links each way in alternating rounds:",
        "",
        "| | per link | database round trips per link | connections to DOKU |",
        "|---|---|---|---|",
        f"| `create_payment_link` | {instant['ours_ms']:.2f} ms | {instant.get('ours_round_trips', 0):g} | "
        f"{instant['ours_connections']} |",
        f"| hand-rolled (`requests.post`, then the link and the order in one transaction) | "
        f"{instant['naive_ms']:.2f} ms | {instant.get('naive_round_trips', 0):g} | {instant['naive_connections']} |",
        f"| **ratio** (target ≤ 2×) | **{instant['ratio']:.2f}×** | | |",
        "",
        "Round trips counted with Django's query capture, BEGIN and COMMIT included; README.md (benchmark 8) "
        "goes through them one by one. Per notification the side by side is benchmark 3 (the app's endpoint "
        "against the floor view, in the same gunicorn).",
        "",
        *_closing(sale),
    ]


def _other_pages(run: dict[str, Any]) -> str:
    """How much thread time a visit's other pages take beside the pay click, in words."""
    used = run.get("thread_times", {})
    if "pay" not in used:
        return "not measured"
    others = sum(used[step]["mean_thread_ms"] for step in ("open", "return") if step in used)
    pay_own = used["pay"]["mean_thread_ms"] - used["pay"]["mean_doku_ms"]
    visit = visit_thread_ms(run)
    return (
        f"{others:.0f} ms a visit, and the pay click {pay_own:.0f} ms of its own beside DOKU's "
        f"{used['pay']['mean_doku_ms']:.0f} ms, so DOKU had {used['pay']['mean_doku_ms'] / visit:.0%} of the threads' time"
    )


def _closing(sale: dict[str, Any]) -> list[str]:
    """The closing note: the table's figures in a sentence each, and what limited throughput."""
    one, two, instant = sale["one"], sale["two"], sale["instant"]
    zeros = sum(one["zero"].values()) + sum(two["zero"].values())
    load = max(one["load"][3], two["load"][3])
    return [
        "**Closing note.** "
        f"One server served {one['pay_per_second']:.1f} pay clicks a second, {one['ratio']:.2f}× its limit of "
        f"{one['limit']:.1f}; two servers {two['pay_per_second']:.1f}, {two['ratio']:.2f}× of {two['limit']:.1f}. "
        f"What limited throughput: on one server {limited_by(one)}; on two {limited_by(two)}. "
        f"The shoppers' order and return pages hold the same threads: {_other_pages(one)}. "
        f"DOKU's notifications took {one['notification']['p99_ms']:.0f} ms and {two['notification']['p99_ms']:.0f} ms "
        f"at the 99th percentile (target 100 ms), sent as each payment completed"
        + (
            f"; in whole-second bursts of up to {sale['bursts']['notification'].get('largest_burst', 0)} at once, "
            f"{sale['bursts']['notification']['p99_ms']:.0f} ms: the last of a burst waits for the ones before it"
            if "bursts" in sale
            else ""
        )
        + ". "
        + ("Nothing that must never happen happened: every count is 0. " if not zeros else f"{zeros} counts not 0. ")
        + f"Against an instant DOKU a link cost {instant['ours_ms']:.2f} ms, {instant['ratio']:.2f}× the hand-rolled "
        f"{instant['naive_ms']:.2f} ms ({instant.get('ours_round_trips', 0):g} round trips against "
        f"{instant.get('naive_round_trips', 0):g}). The load average reached {load:.1f} on {os.cpu_count()} CPUs "
        "during the run: on a shared machine the limits measured are the machine's, not the app's.",
    ]


def write_sale(results: dict[str, Any]) -> None:
    """Put benchmark 8 into RESULTS.md, leaving the other benchmarks' last results as they are."""
    text = RESULTS.read_text()
    head, _, _ = text.partition("\n## 8. A sale at DOKU's latency")
    lines = [line for line in head.rstrip().splitlines() if not line.startswith("| 8. ")]
    last_row = max(index for index, line in enumerate(lines) if line.startswith("| 7. "))
    rows = [f"| {name} | {figure} | {target} | {verdict(met)} |" for name, figure, target, met in sale_rows(results)]
    lines[last_row + 1 : last_row + 1] = rows
    RESULTS.write_text("\n".join([*lines, "", *_sale(results), ""]))


def _link_creation(link: dict[str, Any]) -> list[str]:
    return [
        "## 1. Link creation overhead",
        "",
        "`services.create_payment_link(order)` with no client passed, as the pay view and the admin call it, "
        "with DOKU answering instantly in-process, against the floor: read the "
        "line items, serialize and sign the same full body, write the same link, order and event rows with plain "
        "ORM calls in one transaction (no row lock, no reuse check, no validation, no HTTP client).",
        "",
        "| | per link |",
        "|---|---|",
        f"| `create_payment_link` | {ms(link['ours'])} |",
        f"| floor | {ms(link['floor'])} |",
        f"| **ratio** (target ≤ 1.5×) | **{link['ratio']:.2f}×** |",
        f"| floor with the order's row lock (for reference) | {ms(link['locked_floor'])} |",
        f"| ratio to the locked floor | {link['locked_ratio']:.2f}× |",
    ]


def _http(http: dict[str, Any]) -> list[str]:
    return [
        "## 2. Link creation over HTTP",
        "",
        f"{http['count']} sequential links against the standalone simulator over loopback, on the same "
        "PostgreSQL database, in alternating rounds. The app: `services.create_payment_link(order)` with no "
        "client passed (claim, call, record: two short transactions). The naive integration a shop writes "
        "without this app: `requests.post` per link, then one transaction that inserts the link and marks the "
        "order pending.",
        "",
        "| | per link | total | connections opened |",
        "|---|---|---|---|",
        f"| default path | {http['ours_ms']:.2f} ms | {http['ours_seconds']:.2f} s | {http['ours_connections']} |",
        f"| naive integration | {http['naive_ms']:.2f} ms | {http['naive_seconds']:.2f} s | "
        f"{http['naive_connections']} |",
        f"| **ratio** (target ≤ 1.5×, 1 connection) | **{http['ratio']:.2f}×** | | |",
    ]


def _reconciliation(sale: dict[str, Any]) -> list[str]:
    return [
        "## 7. Reconciliation at sale scale",
        "",
        f"{sale['orders']:,} pending orders, each with an open link; `manage.py doku_checkout_reconcile "
        f"--workers {sale['workers']}` against the standalone simulator answering each request after "
        f"{sale['latency'] * 1000:.0f} ms. One at a time would take {sale['sequential_seconds']:.0f} s.",
        "",
        "| | |",
        "|---|---|",
        f"| time | **{sale['seconds']:.1f} s** ({sale['orders'] / sale['seconds']:.0f} orders/s) |",
        f"| the least it could take with {sale['workers']} workers (orders × latency ÷ workers) | "
        f"{sale['orders'] * sale['latency'] / sale['workers']:.1f} s |",
        f"| orders checked, failed | {sale['checked']:,}, {sale['failed']} |",
        f"| claims left behind | {sale['claims_left']} |",
        f"| last progress lines | {'; '.join(sale['progress']) or '-'} |",
        f"| summary | {sale['summary']} |",
    ]


def _throughput(load: dict[str, Any]) -> list[str]:
    return [
        "## 3. Notification throughput",
        "",
        f"gunicorn, 2 sync workers, PostgreSQL; a separate asyncio process keeps {load['concurrency']} connections "
        f"busy with {load['count']:,} distinct signed SUCCESS notifications per run, {load['repeats']} runs each, "
        "the two endpoints alternating. The floor view in the same server checks the HMAC, then runs one `UPDATE` "
        "and one `INSERT`.",
        "",
        "| | requests/s | p50 | p99 | errors | orders left unpaid |",
        "|---|---|---|---|---|---|",
        f"| app's endpoint | {plain(load['ours_per_second'])} | {plain(load['ours_p50_ms'], ' ms')} | "
        f"{plain(load['ours_p99_ms'], ' ms')} | {load['ours_errors']} | {load['ours_unpaid']} |",
        f"| floor | {plain(load['floor_per_second'])} | {plain(load['floor_p50_ms'], ' ms')} | "
        f"{plain(load['floor_p99_ms'], ' ms')} | {load['floor_errors']} | {load['floor_unpaid']} |",
        f"| **ratio** (target ≥ 0.5×) | **{load['ratio']:.2f}×** | | | | |",
    ]


def _queries(queries: dict[str, int]) -> list[str]:
    return [
        "## 4. Queries per request",
        "",
        "| request | queries |",
        "|---|---|",
        *[f"| {name} | {count} |" for name, count in queries.items()],
    ]


def _scaling(scaling: dict[str, Any]) -> list[str]:
    lines = [
        "## 5. Scaling",
        "",
        f"Each order already in the table is paid, with a line item, a link, a notification and two events. "
        f"At each size, {scaling['sample']} new orders are paid for one request at a time (pay view POST, create "
        "path, then the notification), in-process with DOKU answering instantly. Each size is a database of its "
        f"own, measured in {scaling['rounds']} interleaved rounds in a changing order, so that a slow minute of "
        "the machine slows every size alike instead of looking like growth.",
        "",
        "| orders in the table | pay view | notification | payments dashboard |",
        "|---|---|---|---|",
        *[
            f"| {row['orders']:,} | {ms(row['pay'])} | {ms(row['notification'])} | {ms(row['dashboard'])} |"
            for row in scaling["rows"]
        ],
        f"| **largest ÷ smallest** (target ≤ 1.3×) | **{scaling['pay_ratio']:.2f}×** | "
        f"**{scaling['notification_ratio']:.2f}×** | {scaling['dashboard_ratio']:.2f}× |",
        "",
        "The payments dashboard (the admin page, every panel, logged in as staff) is loaded "
        f"{scaling['rows'][0]['dashboard_loads']} times per size. Its panels read the last 30 days (or 48 hours), "
        "so what it aggregates grows with the table only until the window is full: one order paid a minute "
        "fills 30 days with 43,200 orders, so from 100,000 orders on it reads the same window whatever the size.",
        "",
        f"Sequential scans among the lookups: {', '.join(scaling['seq_scans']) or 'none'}. "
        f"The plans at {scaling['rows'][-1]['orders']:,} orders:",
        "",
    ]
    for plan in [*scaling["plans"], *scaling["dashboard_plans"]]:
        lines += ["<details><summary><code>" + plan["sql"].strip()[:110].replace("|", "\\|") + "…</code></summary>", ""]
        lines += ["```", plan["sql"], "", plan["plan"], "```", "", "</details>", ""]
    return lines


def _memory(memory: dict[str, Any]) -> list[str]:
    rows = [
        f"| {worker['pid']} | {worker['after_first']['peak'] / 1024:.1f} MiB | "
        f"{worker['after_total']['peak'] / 1024:.1f} MiB | {worker['after_total']['rss'] / 1024:.1f} MiB |"
        for worker in memory["workers"]
    ]
    return [
        "## 6. Memory",
        "",
        f"The two gunicorn workers' peak resident memory (VmHWM) after {memory['first']:,} and after "
        f"{memory['total']:,} notifications ({memory['errors']} errors).",
        "",
        f"| worker | peak after {memory['first']:,} | peak after {memory['total']:,} | resident now |",
        "|---|---|---|---|",
        *rows,
        "",
        f"Largest growth of a worker's peak: {memory['growth_kib'] / 1024:.1f} MiB.",
    ]


def write_results(args: argparse.Namespace, results: dict[str, Any]) -> None:
    options = {key: value for key, value in vars(args).items() if key != "database"}
    lines = [
        "# Benchmark results",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `benchmarks/run.py` with "
        + ", ".join(f"{key}={value}" for key, value in options.items())
        + f", on {_machine()}. Every ratio compares figures from this same run. What each benchmark measures, "
        "and what stands behind a target that is not met, is in [README.md](README.md).",
        "",
        *_summary(results),
        "",
        *_link_creation(results["link_creation"]),
        "",
        *_http(results["http"]),
        "",
        *_throughput(results["throughput"]),
        "",
        *_queries(results["queries"]),
        "",
        *_scaling(results["scaling"]),
        "",
        *_memory(results["memory"]),
        "",
        *_reconciliation(results["reconciliation"]),
        "",
        *(_sale(results["sale"]) + [""] if "sale" in results else []),
    ]
    RESULTS.write_text("\n".join(lines))
