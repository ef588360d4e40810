"""DOKU as a shop meets it in a sale, in a process of its own (benchmark 8).

    python benchmarks/doku_standin.py --port 9000 --notify http://127.0.0.1:8001 --client-id ID --secret-key KEY

Answers Checkout (``POST /checkout/v1/payment``) and the Status API after a latency drawn
around ``--latency`` (± ``--jitter``), answers 503 to ``--errors`` of the calls and holds
``--timeouts`` of them for ``--hang`` seconds (longer than the client's read timeout, so it
retries with the same Request-Id, which is answered 409 with the first answer, as DOKU does).
Each new link is paid at a moment drawn uniformly 1 to 5 seconds later, and DOKU sends its
signed SUCCESS notification when the payment completes: the sender looks every
``--dispatch`` seconds (0.1) and sends what is due, to the ``--notify`` servers in turn. A
sale makes notifications bursty because it makes payments bursty, not because DOKU holds
them back; ``--dispatch 1`` sends every one due at each whole second together, a harsher
model that benchmark 8 reports as a second line. A refused or failed notification is sent
again, as DOKU does.

``GET /_report`` answers what it did: calls, notification latencies and failures, and how
many notifications are still to send. No Django here: signing is
:mod:`django_doku_checkout.signatures`, the bodies' bytes :func:`django_doku_checkout.payloads.encode_body`.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import itertools
import json
import random
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from django_doku_checkout import signatures  # noqa: E402
from django_doku_checkout.payloads.wire import encode_body  # noqa: E402

NOTIFICATION_PATH = "/doku/notification/"
PAYMENT_URL = "https://sandbox.doku.com/checkout-link-v2/{token}"
#: How often a notification is sent before DOKU gives up on it (then it is lost).
NOTIFICATION_ATTEMPTS = 5


class Standin:
    """The stand-in's memory: answers by Request-Id, payments due, and what was measured."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.lock = threading.Lock()
        self.random = random.Random(args.seed)  # noqa: S311 - latencies, not secrets
        self.answers: dict[str, bytes] = {}  # Request-Id -> first answer
        self.paid_at: dict[str, float] = {}  # invoice number -> when it is paid
        self.due: list[tuple[float, str]] = []  # (second, invoice number), a heap
        self.calls = {"checkout": 0, "status": 0, "replayed": 0, "errors_503": 0, "held": 0}
        self.doku_seconds: list[float] = []  # how long each answer was held back
        self.notified: dict[str, int] = {}  # invoice number -> last HTTP status
        self.notification_ms: list[float] = []
        self.notification_statuses: dict[str, int] = {}
        self.in_flight = 0
        self.bursts: list[int] = []  # notifications sent at once, per burst
        self.targets = itertools.cycle(args.notify.split(","))
        self.senders = ThreadPoolExecutor(max_workers=args.senders)

    def delay(self) -> tuple[float, str]:
        """How long this answer waits, and what it is: ``"ok"``, ``"503"`` or ``"held"``."""
        with self.lock:
            draw = self.random.random()
            latency = max(0.0, self.random.uniform(-1, 1) * self.args.jitter + self.args.latency)
        if draw < self.args.errors:
            return latency, "503"
        if draw < self.args.errors + self.args.timeouts:
            return self.args.hang, "held"
        return latency, "ok"

    def link(self, request_id: str, body: dict[str, Any]) -> tuple[int, bytes]:
        invoice = body["order"]["invoice_number"]
        with self.lock:
            first = self.answers.get(request_id)
            if first is not None:
                self.calls["replayed"] += 1
                return 409, first
            token = f"{len(self.answers):08d}"
            answer = json.dumps(
                {
                    "message": ["SUCCESS"],
                    "response": {
                        "order": {"invoice_number": invoice, "amount": body["order"]["amount"]},
                        "payment": {
                            "url": PAYMENT_URL.format(token=token),
                            "token_id": token,
                            "expired_date": "20991231235959",
                        },
                    },
                }
            ).encode()
            self.answers[request_id] = answer
            paid = time.time() + self.random.uniform(1, 5)
            self.paid_at[invoice] = paid
            heapq.heappush(self.due, (paid, invoice))
        return 200, answer

    def status(self, invoice: str) -> tuple[int, bytes]:
        with self.lock:
            paid = self.paid_at.get(invoice)
        if paid is None:
            return 404, json.dumps({"error": {"code": "not_found", "message": "Order not found"}}).encode()
        body = notification_body(invoice, "SUCCESS" if time.time() >= paid else "PENDING")
        body["order"]["status"] = "ORDER_GENERATED"
        return 200, encode_body(body)

    def send_due(self) -> None:
        """Every ``--dispatch`` seconds (on the clock's ticks), send the notifications due by now, all at once."""
        while True:
            now = time.time()
            with self.lock:
                burst = []
                while self.due and self.due[0][0] <= now:
                    burst.append(heapq.heappop(self.due)[1])
                self.in_flight += len(burst)
                if burst:
                    self.bursts.append(len(burst))
            for invoice in burst:
                self.senders.submit(self.notify, invoice, next(self.targets))
            tick = self.args.dispatch
            time.sleep(max(0.0, (now // tick + 1) * tick - time.time()))

    def notify(self, invoice: str, target: str) -> None:
        body = encode_body(notification_body(invoice, "SUCCESS"))
        headers = signatures.signed_headers(
            self.args.secret_key, client_id=self.args.client_id, target=NOTIFICATION_PATH, body=body
        )
        status = 0
        try:
            for attempt in range(NOTIFICATION_ATTEMPTS):
                url = urlsplit(next(self.targets) if attempt else target)
                started = time.perf_counter()
                try:
                    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                    sent = {**headers, "X-Bench-Sent": repr(time.time())}  # for the servers' timing
                    connection.request("POST", NOTIFICATION_PATH, body=body, headers=sent)
                    answer = connection.getresponse()
                    answer.read()
                    connection.close()
                    status = answer.status
                except OSError as err:
                    key = type(err).__name__
                else:
                    key = str(status)
                elapsed = (time.perf_counter() - started) * 1000
                with self.lock:
                    self.notification_ms.append(elapsed)
                    self.notification_statuses[key] = self.notification_statuses.get(key, 0) + 1
                if status == 200:
                    break
                time.sleep(0.5 * (attempt + 1))
        finally:
            with self.lock:
                self.notified[invoice] = status
                self.in_flight -= 1

    def report(self) -> dict[str, Any]:
        with self.lock:
            latencies = sorted(self.notification_ms)
            quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
            held = sorted(self.doku_seconds)
            return {
                "calls": dict(self.calls),
                "links": len(self.answers),
                "doku_mean_seconds": statistics.fmean(held) if held else 0.0,
                "notifications_to_send": len(self.due) + self.in_flight,
                "notifications_sent": len(self.notified),
                "notifications_failed": sorted(inv for inv, status in self.notified.items() if status != 200),
                "notified": sorted(self.notified),
                "notification_statuses": dict(self.notification_statuses),
                "notification_p50_ms": quantiles[49],
                "notification_p99_ms": quantiles[98],
                "notification_max_ms": latencies[-1] if latencies else 0.0,
                "largest_burst": max(self.bursts, default=0),
                "median_burst": statistics.median(self.bursts) if self.bursts else 0,
            }


def notification_body(invoice: str, status: str) -> dict[str, Any]:
    """A Virtual Account payment's body, as DOKU sends it (and as its Status API answers)."""
    return {
        "service": {"id": "VIRTUAL_ACCOUNT"},
        "acquirer": {"id": "BCA"},
        "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
        "order": {"invoice_number": invoice, "amount": 240_000},
        "virtual_account_info": {"virtual_account_number": "1900600000000046"},
        "transaction": {"status": status, "date": "2026-12-12T10:00:00Z", "original_request_id": invoice},
    }


def handler(standin: Standin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive, as DOKU's HTTPS endpoints are
        # The headers and the body leave in two writes: with Nagle's algorithm the body would
        # wait for the client's delayed ACK (40 ms) on a kept-alive connection. DOKU's servers
        # send at once, as every web server does.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def answer(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # a held call: the client gave up at its read timeout and retries

        def held(self, kind: str) -> tuple[int, bytes] | None:
            seconds, outcome = standin.delay()
            with standin.lock:
                standin.calls[kind] += 1
                standin.doku_seconds.append(seconds)
                if outcome != "ok":
                    standin.calls["errors_503" if outcome == "503" else "held"] += 1
            time.sleep(seconds)
            if outcome == "503":
                return 503, b'{"error": {"code": "service_unavailable", "message": "try again"}}'
            return None

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            refused = self.held("checkout")
            if refused is not None:
                self.answer(*refused)
                return
            self.answer(*standin.link(self.headers.get("Request-Id", ""), json.loads(raw)))

        def do_GET(self) -> None:
            if self.path == "/_report":
                self.answer(200, json.dumps(standin.report()).encode())
                return
            if self.path == "/":
                self.answer(200, b"{}")
                return
            refused = self.held("status")
            if refused is not None:
                self.answer(*refused)
                return
            self.answer(*standin.status(self.path.rsplit("/", 1)[-1]))

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a sale's burst of connections waits instead of being refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--notify", required=True, help="the shop's base URLs, comma-separated")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--secret-key", required=True)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--jitter", type=float, default=0.1)
    parser.add_argument("--errors", type=float, default=0.01, help="share of calls answered 503")
    parser.add_argument("--timeouts", type=float, default=0.005, help="share of calls held for --hang seconds")
    parser.add_argument("--hang", type=float, default=3.0)
    parser.add_argument("--senders", type=int, default=32, help="notifications sent at once")
    parser.add_argument(
        "--dispatch", type=float, default=0.1, help="seconds between two looks for notifications due (1: bursts)"
    )
    parser.add_argument("--seed", type=int, default=1212)
    args = parser.parse_args()
    standin = Standin(args)
    server = Server(("127.0.0.1", args.port), handler(standin))
    threading.Thread(target=standin.send_due, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
