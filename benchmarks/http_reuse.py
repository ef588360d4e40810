"""Benchmark 2: link creation over loopback HTTP, one kept-alive session against a new connection each."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import requests

from benchmarks.common import timed


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
        from django.test import override_settings

        simulator = {"CLIENT_ID": CLIENT_ID, "SECRET_KEY": SECRET_KEY, "ENVIRONMENT": "simulator", "API_BASE_URL": base}
        with override_settings(DOKU_CHECKOUT=simulator):
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

        client = DokuClient(config)
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
