"""A bounded asyncio load generator, run as its own process by the throughput benchmark.

    python benchmarks/loadgen.py REQUESTS.jsonl --port 8000 --concurrency 4

Each line of REQUESTS.jsonl is one prepared request: ``{"path", "headers", "body"}``.
Every request goes over a new connection (gunicorn's sync workers close them anyway).
Prints one JSON object: requests/s, latency percentiles in milliseconds and any errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any


def encode(request: dict[str, Any], host: str, port: int) -> bytes:
    body = request["body"].encode()
    lines = [f"POST {request['path']} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in request["headers"].items() if name != "Content-Length"]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def send(raw: bytes, host: str, port: int) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()  # the rest, up to the server closing the connection
    finally:
        writer.close()
    return int(status_line.split()[1])


async def drive(raws: list[bytes], host: str, port: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    queue = iter(raws)

    async def worker() -> None:
        for raw in queue:
            started = time.perf_counter()
            try:
                status = await send(raw, host, port)
            except OSError as err:
                statuses[type(err).__name__] += 1
                continue
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(raws),
        "seconds": elapsed,
        "per_second": len(raws) / elapsed,
        "p50_ms": quantiles[49] * 1000,
        "p99_ms": quantiles[98] * 1000,
        "statuses": dict(statuses),
        "errors": sum(count for status, count in statuses.items() if status != "200"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("requests", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    with args.requests.open() as lines:
        raws = [encode(json.loads(line), args.host, args.port) for line in lines]
    print(json.dumps(asyncio.run(drive(raws, args.host, args.port, args.concurrency))))


if __name__ == "__main__":
    main()
