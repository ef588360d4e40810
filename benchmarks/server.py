"""gunicorn serving the benchmark site, and a separate load-generator process driving it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

LOADGEN = ROOT / "benchmarks" / "loadgen.py"


@contextmanager
def gunicorn(
    *,
    workers: int = 2,
    threads: int = 1,
    port: int | None = None,
    env: dict[str, str] | None = None,
    config: str = "",
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """Serve ``benchmarks.site`` with gunicorn on a loopback port (free unless given).

    ``threads`` above 1 runs gunicorn's ``gthread`` workers, ``threads`` requests at once each.
    ``config`` is a gunicorn configuration (``python:benchmarks.site.timing``).
    """
    from tests.servers import free_port, serving

    port = port or free_port()
    command = [sys.executable, "-m", "gunicorn", "benchmarks.site.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
    command += ["--backlog", "256", "--log-level", "warning", *(["--config", config] if config else [])]
    server_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "benchmarks.site.settings", **(env or {})}
    with serving(command, f"http://127.0.0.1:{port}", grace=30, cwd=ROOT, env=server_env) as server:
        yield port, server


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def memory_kib(pid: int) -> dict[str, int]:
    """A process's resident set now (VmRSS) and at its peak (VmHWM), in KiB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss": int(fields["VmRSS"].split()[0]), "peak": int(fields["VmHWM"].split()[0])}


def signed_notifications(invoice_numbers: list[str], path: str) -> list[dict[str, Any]]:
    """One distinct, correctly signed SUCCESS notification per invoice, as DOKU sends them."""
    from django.conf import settings

    from django_doku_checkout import payloads, signatures

    config = settings.DOKU_CHECKOUT
    prepared = []
    for invoice_number in invoice_numbers:
        body = payloads.encode_body(
            {
                "service": {"id": "VIRTUAL_ACCOUNT"},
                "acquirer": {"id": "BCA"},
                "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
                "order": {"invoice_number": invoice_number, "amount": 240_000},
                "virtual_account_info": {"virtual_account_number": "1900600000000046"},
                "transaction": {"status": "SUCCESS", "date": "2026-11-21T10:00:00Z", "original_request_id": "x"},
            }
        )
        headers = signatures.signed_headers(config["SECRET_KEY"], client_id=config["CLIENT_ID"], target=path, body=body)
        prepared.append({"path": path, "headers": headers, "body": body.decode()})
    return prepared


def post_in_process(client: Any, prepared: dict[str, Any]) -> Any:
    """Send one prepared notification through Django's test client (no HTTP); its response."""
    headers = {name: value for name, value in prepared["headers"].items() if name != "Content-Type"}
    return client.post(prepared["path"], data=prepared["body"], content_type="application/json", headers=headers)


def load(port: int, requests: list[dict[str, Any]], *, concurrency: int = 4) -> dict[str, Any]:
    """Send ``requests`` from a separate process; its JSON report (rate, latencies, errors)."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl") as file:
        file.writelines(json.dumps(request) + "\n" for request in requests)
        file.flush()
        finished = subprocess.run(  # noqa: S603 - our own load generator
            [sys.executable, str(LOADGEN), file.name, "--port", str(port), "--concurrency", str(concurrency)],
            capture_output=True,
            text=True,
            check=True,
        )
    return dict(json.loads(finished.stdout))
