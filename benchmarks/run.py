"""Benchmarks: what the app adds on top of the least its work needs, measured in one run.

    .venv/bin/python benchmarks/run.py --database postgres://doku:doku@127.0.0.1:5432/doku

Runs every benchmark of issue 7 on a fresh test database and writes benchmarks/RESULTS.md.
Each figure is a median over repeated runs with min and max, next to its floor measured in
the same run (absolute times drift on shared machines; ratios hold). Not part of the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import setup_django  # noqa: E402
from benchmarks.report import write_results, write_sale  # noqa: E402


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("DOKU_TEST_POSTGRES_URL", ""), help="a postgres:// URL")
    parser.add_argument("--repeats", type=int, default=7, help="repeats for benchmark 1")
    parser.add_argument("--links", type=int, default=100, help="links per repeat for benchmark 1")
    parser.add_argument("--http-links", type=int, default=500, help="links for benchmark 2")
    parser.add_argument("--notifications", type=int, default=5000, help="notifications per run for benchmark 3")
    parser.add_argument("--throughput-repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4, help="connections the load generator keeps busy")
    parser.add_argument("--memory", default="100,10000", help="benchmark 6: notifications before each reading")
    parser.add_argument("--sizes", default="1000,100000,1000000", help="benchmark 5: order table sizes")
    parser.add_argument("--sample", type=int, default=300, help="benchmark 5: requests timed at each size")
    parser.add_argument("--scaling-rounds", type=int, default=3, help="benchmark 5: interleaved rounds")
    parser.add_argument("--sale-orders", type=int, default=10_000, help="benchmark 7: pending orders")
    parser.add_argument("--sale-workers", type=int, default=32, help="benchmark 7: reconcile --workers")
    parser.add_argument("--sale-latency", type=float, default=0.05, help="benchmark 7: DOKU's answer time, s")
    parser.add_argument("--sale-shop-orders", type=int, default=3000, help="benchmark 8: orders the shoppers buy")
    parser.add_argument("--sale-processes", type=int, default=2, help="benchmark 8: gunicorn processes per server")
    parser.add_argument("--sale-threads", type=int, default=8, help="benchmark 8: threads per process")
    parser.add_argument("--sale-shoppers", type=int, default=32, help="benchmark 8: concurrent shoppers")
    parser.add_argument("--sale-links", type=int, default=300, help="benchmark 8: links each way against instant DOKU")
    parser.add_argument(
        "--quick", action="store_true", help="benchmark 8 small (300 orders, 2 x 4 threads, 12 shoppers): development"
    )
    parser.add_argument(
        "--only",
        default="",
        help="comma-separated benchmarks to run (e.g. sale); RESULTS.md keeps the others' last results",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the raw figures to this file")
    args = parser.parse_args()
    if args.quick:
        args.sale_shop_orders, args.sale_threads, args.sale_shoppers, args.sale_links = 300, 4, 12, 100
    if not args.database.startswith(("postgres://", "postgresql://")):
        parser.error(
            "--database (or DOKU_TEST_POSTGRES_URL) must be a PostgreSQL URL: gunicorn and the scaling runs need it"
        )
    return args


def main() -> None:
    args = arguments()
    setup_django(args.database)
    from benchmarks.http_reuse import bench_http
    from benchmarks.link_creation import bench_link_creation
    from benchmarks.queries import bench_queries
    from benchmarks.reconciliation import bench_reconciliation
    from benchmarks.sale import bench_sales
    from benchmarks.scaling import bench_scaling
    from benchmarks.throughput import bench_memory, bench_throughput

    first, total = (int(value) for value in args.memory.split(","))
    steps: list[tuple[str, Any]] = [
        ("queries", bench_queries),
        ("link_creation", lambda: bench_link_creation(args.repeats, args.links)),
        ("http", lambda: bench_http(args.http_links)),
        ("throughput", lambda: bench_throughput(args.throughput_repeats, args.notifications, args.concurrency)),
        ("memory", lambda: bench_memory(first, total)),
        (
            "scaling",
            lambda: bench_scaling([int(size) for size in args.sizes.split(",")], args.sample, args.scaling_rounds),
        ),
        (
            "reconciliation",
            lambda: bench_reconciliation(args.sale_orders, args.sale_workers, args.sale_latency),
        ),
        ("sale", lambda: bench_sales(args)),
    ]
    every = [name for name, _ in steps]
    if args.only:
        chosen = set(args.only.split(","))
        steps = [(name, bench) for name, bench in steps if name in chosen]
    results: dict[str, Any] = {}
    for name, bench in steps:
        started = time.perf_counter()
        print(f"{name} ...", flush=True)
        results[name] = bench()
        print(f"{name} done in {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if set(results) == {"sale"}:
        write_sale(results["sale"])  # the others' last results stay
    elif list(results) == every:
        write_results(args, results)
    else:  # RESULTS.md compares figures of one run: a part of a run is printed, not written there
        print(json.dumps(results, indent=1, default=str))
        print("RESULTS.md is left as it was: only a run of every benchmark (or of the sale alone) writes it.")
        return
    print((Path(__file__).parent / "RESULTS.md").read_text())


if __name__ == "__main__":
    main()
