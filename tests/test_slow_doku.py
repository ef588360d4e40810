"""DOKU taking 20 seconds to answer must not hold up anything else: the example shop, run for real.

The shop runs as ``manage.py runserver`` on SQLite (a file, as a shop has it) or on a
PostgreSQL database of its own, in autocommit. DOKU is a real HTTP server in this process
that holds a link request for up to 20 seconds: the shopper asks for a new link because
the first one is about to expire. Meanwhile DOKU's notification that the first link was
paid arrives: it must be stored and answered at once, not wait for the link's call (the old
code held the order's row lock, or SQLite's write lock, across the call).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

from django_doku_checkout import signatures
from django_doku_checkout.payloads import encode_body
from tests.example_shop import run_manage, serve_example_shop
from tests.pages import press_pay
from tests.races import on_postgresql
from tests.servers import free_port

# Subprocesses and servers for seconds per test: the full cells of the matrix only (noxfile.py).
pytestmark = pytest.mark.slow

WIB = timezone(timedelta(hours=7))
SHOP_CLIENT_ID = "MCH-SLOW-DOKU"
SHOP_SECRET = "SK-slow-doku-secret"  # noqa: S105 - a test key
#: How long DOKU holds a link request at most.
SLOW_CALL = 20


class SlowDoku(ThreadingHTTPServer):
    """DOKU's Checkout API: at once with a link about to expire, or, once ``slow`` is set, after ``release``."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", free_port()), SlowDokuHandler)
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"
        self.slow = threading.Event()
        self.holding = threading.Event()
        self.release = threading.Event()


class SlowDokuHandler(BaseHTTPRequestHandler):
    server: SlowDoku

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        # A link about to expire is not handed out again: the next click asks for a new one.
        expires = datetime.now(WIB) + timedelta(minutes=1)
        if self.server.slow.is_set():
            self.server.holding.set()
            self.server.release.wait(SLOW_CALL)
            expires += timedelta(hours=1)
        invoice = body["order"]["invoice_number"]
        answer = encode_body(
            {
                "message": ["SUCCESS"],
                "response": {
                    "order": {"invoice_number": invoice, "amount": body["order"]["amount"]},
                    "payment": {
                        "token_id": invoice,
                        "url": f"{self.server.base_url}/pay/{invoice}",
                        "expired_date": f"{expires:%Y%m%d%H%M%S}",
                    },
                },
            }
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Quiet: the test says what matters."""


@pytest.fixture
def slow_doku() -> Iterator[SlowDoku]:
    server = SlowDoku()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A database of the shop's own on the test PostgreSQL server, dropped afterwards."""
    import os

    import psycopg

    url = urlsplit(os.environ["DATABASE_URL"])
    name = f"doku_slow_{uuid.uuid4().hex[:8]}"
    # The maintenance database, as Django uses to create test databases: the one DATABASE_URL
    # names need not exist (pytest-django creates only its test_ copy).
    admin = f"host={url.hostname} port={url.port or 5432} user={url.username} password={url.password} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def demo_orders(env: dict[str, str]) -> dict[str, dict[str, object]]:
    """The seeded phone orders' public ids and amounts, read through the shop's own ORM."""
    script = (
        "import json; from django_doku_checkout.models import Order; "
        "print(json.dumps({o.invoice_number: {'public_id': str(o.public_id), 'amount': o.amount, 'status': o.status} "
        "for o in Order.objects.all()}))"
    )
    shell = run_manage("shell", "-c", script, env=env)
    assert shell.returncode == 0, shell.stderr
    return json.loads(shell.stdout.strip().splitlines()[-1])


def signed_notification(invoice: str, amount: int) -> tuple[bytes, dict[str, str]]:
    body = encode_body(
        {
            "order": {"invoice_number": invoice, "amount": amount},
            "transaction": {"status": "SUCCESS", "date": "2026-11-22T10:00:00Z"},
            "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
        }
    )
    headers = signatures.signed_headers(
        SHOP_SECRET,
        client_id=SHOP_CLIENT_ID,
        request_id=str(uuid.uuid4()),
        timestamp=signatures.format_timestamp(),
        target="/doku/notification/",
        body=body,
    )
    return body, {**headers, "Content-Type": "application/json"}


def notification_during_a_slow_call(database_url: str, doku: SlowDoku, tmp_path) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": database_url,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DOKU_ENVIRONMENT": "sandbox",
        "DOKU_API_BASE_URL": doku.base_url,
        "DOKU_CLIENT_ID": SHOP_CLIENT_ID,
        "DOKU_SECRET_KEY": SHOP_SECRET,
    }
    assert run_manage("migrate", "--noinput", env=env).returncode == 0
    assert run_manage("seed_demo", env=env).returncode == 0
    orders = demo_orders(env)
    order = orders["DEMO-PHONE-1"]
    with serve_example_shop(port, env) as shop:
        first = press_pay(requests.Session(), shop, order["public_id"])
        assert first.headers["Location"] == f"{doku.base_url}/pay/DEMO-PHONE-1"

        doku.slow.set()
        shopper: dict[str, requests.Response] = {}
        clicking = threading.Thread(
            target=lambda: shopper.update(response=press_pay(requests.Session(), shop, order["public_id"], timeout=40))
        )
        clicking.start()
        assert doku.holding.wait(10), "the shop never asked DOKU for the second link"

        # The shopper had paid the first link after all.
        body, headers = signed_notification("DEMO-PHONE-1", int(order["amount"]))  # type: ignore[call-overload]
        started = time.monotonic()
        answer = requests.post(f"{shop}/doku/notification/", data=body, headers=headers, timeout=30)
        took = time.monotonic() - started
        doku.release.set()
        clicking.join(30)

    assert (answer.status_code, answer.text) == (200, "SUCCESS: processed")
    assert took < 2, f"the notification waited {took:.1f} s for the link's call to DOKU"
    # The new link came too late: it is withdrawn, and the shopper sees the paid order.
    assert shopper["response"].status_code == 302
    assert shopper["response"].headers["Location"] == f"/doku/result/{order['public_id']}/"
    assert demo_orders(env)["DEMO-PHONE-1"]["status"] == "paid"


def test_a_notification_during_a_slow_doku_call_is_answered_at_once_on_sqlite(slow_doku, tmp_path):
    notification_during_a_slow_call(f"sqlite:///{tmp_path}/shop.sqlite3", slow_doku, tmp_path)


@pytest.mark.postgres
def test_a_notification_during_a_slow_doku_call_is_answered_at_once_on_postgresql(
    slow_doku, postgres_database, tmp_path
):
    assert on_postgresql()
    notification_during_a_slow_call(postgres_database, slow_doku, tmp_path)
