"""Shoppers in a sale, run as their own process by benchmark 8.

    python benchmarks/shoppers.py ORDERS.json --base http://127.0.0.1:8001,http://127.0.0.1:8002 --shoppers 32

ORDERS.json is a list of order ``public_id``s. Each of ``--shoppers`` threads, spread over
``--processes`` processes (2), takes the next order and does what a person does: opens the
shop's order page, clicks pay (a POST with the page's CSRF token, answered with a redirect
to DOKU), and comes back to the return page.
Shoppers use the servers in turn. Prints one JSON object: the run's length, each step's
latency percentiles in milliseconds, and every status that was not the one expected.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import statistics
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
STEPS = ("open", "pay", "return")
EXPECTED = {"open": 200, "pay": 302, "return": 200}


def shop(
    base: str, public_id: str, session: requests.Session, timings: dict[str, list[float]], statuses: Counter[str]
) -> bool:
    """One shopper's visit; whether every step answered as it should."""
    ok = True
    for step in STEPS:
        started = time.perf_counter()
        # When it was sent, for the servers' timing (benchmarks/site/timing.py): how long it queued.
        session.headers["X-Bench-Sent"] = repr(time.time())
        try:
            if step == "open":
                answer = session.get(f"{base}/shop/order/{public_id}/", timeout=60)
                found = TOKEN.search(answer.text)
                token = found.group(1) if found else ""
            elif step == "pay":
                answer = session.post(
                    f"{base}/doku/pay/{public_id}/",
                    data={"csrfmiddlewaretoken": token},
                    headers={"Referer": f"{base}/shop/order/{public_id}/"},
                    allow_redirects=False,
                    timeout=60,
                )
            else:
                answer = session.get(f"{base}/doku/return/{public_id}/", timeout=60)
        except requests.RequestException as err:
            statuses[f"{step} {type(err).__name__}"] += 1
            return False
        timings[step].append(time.perf_counter() - started)
        if answer.status_code != EXPECTED[step]:
            statuses[f"{step} {answer.status_code}"] += 1
            ok = False
    return ok


def percentiles(samples: list[float]) -> dict[str, float]:
    if len(samples) < 2:
        return {"p50_ms": 0.0, "p99_ms": 0.0, "count": len(samples)}
    cuts = statistics.quantiles(samples, n=100)
    return {"p50_ms": cuts[49] * 1000, "p99_ms": cuts[98] * 1000, "count": len(samples)}


def crowd(orders: list[str], bases: list[str], shoppers: int, first: int) -> dict[str, Any]:
    """``shoppers`` threads (numbered from ``first``) buying ``orders``; their raw timings and statuses."""
    queue = iter(orders)
    lock = threading.Lock()
    timings: dict[str, list[float]] = {step: [] for step in STEPS}
    statuses: Counter[str] = Counter()
    completed = [0]

    def shopper(number: int) -> None:
        session = requests.Session()  # a browser: its own cookies
        session.trust_env = False
        # Each request on a connection of its own, as a proxy in front of gunicorn sends them
        # (nginx's default upstream): a kept-alive connection would pin this shopper to one
        # gunicorn process, and a process holding more shoppers than threads queues them
        # while another's threads are idle.
        session.headers["Connection"] = "close"
        mine: dict[str, list[float]] = {step: [] for step in STEPS}
        seen: Counter[str] = Counter()
        done = 0
        base = bases[number % len(bases)]
        while True:
            with lock:
                public_id = next(queue, None)
            if public_id is None:
                break
            done += shop(base, public_id, session, mine, seen)
        with lock:
            for step in STEPS:
                timings[step].extend(mine[step])
            statuses.update(seen)
            completed[0] += done

    threads = [threading.Thread(target=shopper, args=(first + number,)) for number in range(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"timings": timings, "statuses": dict(statuses), "completed": completed[0]}


def _crowd(arguments: tuple[list[str], list[str], int, int]) -> dict[str, Any]:
    return crowd(*arguments)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("orders", type=Path)
    parser.add_argument("--base", required=True, help="the shop's base URLs, comma-separated")
    parser.add_argument("--shoppers", type=int, default=32)
    parser.add_argument(
        "--processes", type=int, default=2, help="processes the shoppers are spread over (one GIL each)"
    )
    args = parser.parse_args()
    orders = json.loads(args.orders.read_text())
    bases = args.base.split(",")
    processes = max(1, min(args.processes, args.shoppers))
    # Each process takes every processes-th order and its share of the shoppers: a browser's
    # work (building requests, reading pages) must not queue behind 31 others' for one GIL.
    shares = [
        (orders[index::processes], bases, args.shoppers // processes + (index < args.shoppers % processes), index)
        for index in range(processes)
    ]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        crowds = pool.map(_crowd, shares)
    seconds = time.perf_counter() - started
    timings = {step: [value for part in crowds for value in part["timings"][step]] for step in STEPS}
    statuses: Counter[str] = Counter()
    for part in crowds:
        statuses.update(part["statuses"])
    report: dict[str, Any] = {
        "seconds": seconds,
        "visits": sum(part["completed"] for part in crowds),
        "unexpected": dict(statuses),
        **{step: percentiles(timings[step]) for step in STEPS},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
