from __future__ import annotations

import contextlib
import itertools
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import responses as responses_lib
from django.core.servers.basehttp import WSGIServer

from django_doku_checkout.models import LineItem, Order

SECRET = "SK-test-secret-123"
CLIENT_ID = "MCH-0001-10791114622547"
SANDBOX = "https://api-sandbox.doku.com"

_invoice_counter = itertools.count(1)

# Django's development server listens with a backlog of 10 connections; the concurrency
# tests open 50 at once, as DOKU's retries and a busy shop do against a real server.
WSGIServer.request_queue_size = 128


def on_postgresql() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


def pytest_collection_modifyitems(config, items):
    """Races need real row locks: on SQLite the ``postgres`` tests are deselected, not skipped."""
    if on_postgresql():
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("postgres")]


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: its throttles and counters are the test's own."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def doku_settings(settings):
    """Change DOKU_CHECKOUT keys for one test: ``doku_settings(ENVIRONMENT="production")``."""

    def update(**values: Any) -> dict[str, Any]:
        settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, **values}
        return settings.DOKU_CHECKOUT

    return update


@pytest.fixture
def order_factory(db) -> Callable[..., Order]:
    def make(*, items: list[tuple[str, int, int]] | None = None, **fields: Any) -> Order:
        items = items if items is not None else [("Batik shirt", 150_000, 1), ("Kopi Toraja 250g", 45_000, 2)]
        defaults: dict[str, Any] = {
            "invoice_number": f"INV-{next(_invoice_counter):05d}",
            "amount": sum(price * quantity for _, price, quantity in items) or 10_000,
            "customer_name": "Siti Rahayu",
            "customer_email": "siti@example.com",
            "customer_phone": "0812-3456-7890",
        }
        order = Order.objects.create(**{**defaults, **fields})
        for index, (name, price, quantity) in enumerate(items, start=1):
            LineItem.objects.create(
                order=order, item_id=f"SKU{index}", name=name, price=price, quantity=quantity, sku=f"SKU{index}"
            )
        return order

    return make


@pytest.fixture
def doku_api():
    """DOKU's HTTP edge faked with ``responses``: nothing else is faked."""
    with responses_lib.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def checkout_success(invoice_number: str = "INV-1", *, url: str = "https://sandbox.doku.com/checkout-link-v2/tok123"):
    return {
        "message": ["SUCCESS"],
        "response": {
            "order": {"amount": "20000", "invoice_number": invoice_number, "currency": "IDR"},
            "payment": {
                "payment_due_date": 60,
                "token_id": "tok123",
                "url": url,
                "expired_date": "20991231235959",
            },
        },
    }


@pytest.fixture
def live_doku(live_server, settings):
    """The app and the simulator in one live server, talking over real HTTP on 127.0.0.1."""
    from django_doku_checkout.simulator.store import STORE

    base = live_server.url
    settings.DOKU_CHECKOUT = {
        "CLIENT_ID": CLIENT_ID,
        "SECRET_KEY": SECRET,
        "ENVIRONMENT": "simulator",
        "API_BASE_URL": base + "/doku-simulator",
        "SITE_URL": base,
        "RETRY_BACKOFF": 0,
        "STATUS_CHECK_INTERVAL": 0,
        "TIMEOUT": (2, 2),
    }
    settings.DOKU_SIMULATOR = {
        "MERCHANTS": [{"CLIENT_ID": CLIENT_ID, "SECRET_KEY": SECRET, "NOTIFICATION_URL": base + "/doku/notification/"}],
        "RETRY_SCHEDULE": [0.1, 0.2],
        "ENABLED": True,  # tests run with DEBUG off, as production does
    }
    STORE.reset()
    yield base
    STORE.wait_until_idle(10)
    STORE.reset()


class SignalLog(list[tuple[str, str, str]]):
    """The signals received, read once the receivers a live server's requests deferred have run.

    A request's receivers run after its response was sent (``services.after_response``): a
    test that has its HTTP answer from the live server in this process may read the log
    before they ran. Every read waits for them first (at most 10 s).
    """

    def _settled(self) -> None:
        from django_doku_checkout.services import after_response

        assert after_response.wait_until_done(10), "receivers deferred after a response still running after 10 s"

    def __iter__(self):
        self._settled()
        return super().__iter__()

    def __len__(self) -> int:
        self._settled()
        return super().__len__()

    def __getitem__(self, index):
        self._settled()
        return super().__getitem__(index)

    def __eq__(self, other: object) -> bool:
        self._settled()
        return super().__eq__(other)

    __hash__ = None

    def __contains__(self, item: object) -> bool:
        self._settled()
        return super().__contains__(item)


@pytest.fixture
def signal_log():
    """Every app signal sent during the test, as (signal name, order invoice, extra)."""
    from django_doku_checkout import signals

    log = SignalLog()
    names = [
        "order_status_changed",
        "payment_succeeded",
        "payment_failed",
        "payment_expired",
        "payment_needs_review",
        "payment_refunded",
    ]
    receivers = {}
    for name in names:

        def receiver(sender, order, _name=name, **kwargs):
            # A refund is logged by its amount: receivers get the Refund row itself.
            extra = kwargs["refund"].amount if "refund" in kwargs else kwargs.get("new_status") or kwargs.get("reason")
            log.append((_name, order.invoice_number, extra or ""))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"signal_log_{name}")
    yield log
    for name in names:
        getattr(signals, name).disconnect(dispatch_uid=f"signal_log_{name}")


def close_thread_connections() -> None:
    """Close the calling thread's database connections, for a thread a test started.

    Django keeps a connection to in-memory SQLite open when asked to close it (closing the
    last one would drop the database), so a thread's own connection would be left for the
    garbage collector, which Python 3.13 reports as an unclosed database. The test's main
    connection keeps the shared in-memory database alive.
    """
    from django.db import connections
    from django.db.backends.base.base import BaseDatabaseWrapper

    for connection in connections.all(initialized_only=True):
        BaseDatabaseWrapper.close(connection)


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run every call on its own thread, released together by a barrier; return their results."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        try:
            return call()
        finally:
            close_thread_connections()  # this thread's own database connection

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_serving(base_url: str, seconds: float = 60) -> None:
    """Poll a server we just started until it answers (a loaded CI machine can take a while)."""
    import time

    import requests

    give_up = time.monotonic() + seconds
    while time.monotonic() < give_up:
        try:
            requests.get(base_url + "/", timeout=5)
            return
        except requests.RequestException:  # not listening yet, or too busy to answer yet
            time.sleep(0.1)
    raise AssertionError(f"{base_url} did not start within {seconds} s")


ROOT = Path(__file__).parents[1]
MANAGE = ROOT / "example_project" / "manage.py"
# pytest-django exports the test settings; the example shop must run on its own. The root
# comes first on the path so the shop runs this checkout's package (and tests.* settings),
# not whichever checkout the package was installed from.
BASE_ENV = {
    **os.environ,
    "DJANGO_SETTINGS_MODULE": "example_project.settings",
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}


def run_manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(MANAGE), *args], env={**BASE_ENV, **env}, capture_output=True, text=True, timeout=120
    )


def csrf(page: str) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def status_of(page: str) -> str:
    """An order's status from its badge (the example shop's stylesheet names every status too)."""
    found = re.search(r'class="doku-order-status doku-order-status-(\w+)"', page)
    assert found, page[:500]
    return found.group(1)


@contextlib.contextmanager
def serve_example_shop(port: int, env: dict[str, str], log: Any = subprocess.DEVNULL) -> Iterator[str]:
    """The example shop under ``manage.py runserver`` (threaded) on 127.0.0.1:``port``, until the block ends."""
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, str(MANAGE), "runserver", f"127.0.0.1:{port}", "--noreload"],
        env={**BASE_ENV, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


@contextlib.contextmanager
def running_example_shop(tmp_path: Path, **env: str) -> Iterator[str]:
    """Migrate, seed and serve the example shop (``runserver``, threaded) on a fresh SQLite file.

    ``env`` adds to or overrides the shop's environment. The server's output goes to
    ``tmp_path / "server.log"`` for the failure messages of the tests that need it.
    """
    port = free_port()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3", "SITE_URL": f"http://127.0.0.1:{port}", **env}
    migrated = run_manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run_manage("seed_demo", env=env)
    assert "demo products and 3 phone orders ready" in seeded.stdout, seeded.stderr
    with (tmp_path / "server.log").open("w") as log, serve_example_shop(port, env, log) as base:
        yield base


@pytest.fixture
def example_shop(tmp_path):
    with running_example_shop(tmp_path) as base:
        yield base


def paid_quietly(order) -> None:
    """The shopper paid at the simulator; no notification has been sent yet."""
    from django_doku_checkout.simulator.actions import settle
    from django_doku_checkout.simulator.faults import Faults
    from django_doku_checkout.simulator.store import STORE

    session = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=True))
    settle(session, "pay", "VIRTUAL_ACCOUNT_BCA")
    STORE.set_faults(CLIENT_ID, Faults())


def sale_after_an_outage(order_factory, doku_simulator, *, paid: int, unpaid: int) -> list[Order]:
    """``paid`` orders paid at DOKU whose notification never arrived, then ``unpaid`` with an open link."""
    from django_doku_checkout import services

    orders = [order_factory() for _ in range(paid + unpaid)]
    doku_simulator.set_faults(drop_notifications=True)
    for order in orders[:paid]:
        doku_simulator.pay(order)
    for order in orders[paid:]:
        services.create_payment_link(order)
    return orders


def notification_sender(live_url: str, order, status: str = "SUCCESS") -> Callable[[], int]:
    """A callable that posts one freshly signed DOKU notification for the order's link, over HTTP."""
    from urllib.parse import urlsplit

    import requests

    from django_doku_checkout.payloads import encode_body
    from django_doku_checkout.simulator import notifier
    from django_doku_checkout.simulator.merchants import merchants
    from django_doku_checkout.simulator.store import STORE

    session = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    merchant = merchants()[CLIENT_ID]
    body = encode_body(notifier.notification_body(session, status))
    path = urlsplit(merchant.notification_url or "").path

    def send() -> int:
        headers = {**notifier.signed_headers(merchant, path, body), "Content-Type": "application/json"}
        return requests.post(live_url + path, data=body, headers=headers, timeout=30).status_code

    return send


def press_pay(shopper, base_url: str, public_id: object, *, timeout: float = 10):
    """What a shopper's browser does: open the order's page and press its pay button (a POST with CSRF)."""
    page = shopper.get(f"{base_url}/doku/result/{public_id}/", timeout=timeout)
    action = re.search(r'<form[^>]+action="(/doku/pay/[^"]+)"', page.text).group(1)
    return shopper.post(
        base_url + action,
        data={"csrfmiddlewaretoken": csrf(page.text)},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=timeout,
    )


def staff_session(base_url: str, username: str = "admin", password: str = "password"):  # noqa: S107 - test users
    """A ``requests.Session`` logged in through the admin's login form (pytest-django's ``admin_user``)."""
    import requests
    from django.urls import reverse

    session = requests.Session()
    login = base_url + reverse("admin:login")
    page = session.get(login, timeout=10)
    answer = session.post(
        login,
        data={"csrfmiddlewaretoken": csrf(page.text), "username": username, "password": password},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def change_form_data(order, **overrides: Any) -> dict[str, Any]:
    """What the admin's order change page posts when saved unchanged; ``overrides`` change fields."""
    items = list(order.line_items.order_by("pk"))
    data: dict[str, Any] = {
        "invoice_number": order.invoice_number,
        "amount": order.amount,
        "currency": order.currency,
        "customer_name": order.customer_name,
        "customer_email": order.customer_email,
        "customer_phone": order.customer_phone,
        "metadata": "{}",
        "_save": "Save",
    }
    # Every inline posts its management form, read-only ones too.
    inlines = (("line_items", len(items)), ("checkout_sessions", 0), ("events", 0), ("refunds", 0), ("deliveries", 0))
    for prefix, count in inlines:
        data.update({f"{prefix}-TOTAL_FORMS": count, f"{prefix}-INITIAL_FORMS": count})
    data.update({"line_items-MIN_NUM_FORMS": 0, "line_items-MAX_NUM_FORMS": 1000})
    for index, item in enumerate(items):
        data.update(
            {
                f"line_items-{index}-id": item.pk,
                f"line_items-{index}-order": order.pk,
                f"line_items-{index}-name": item.name,
                f"line_items-{index}-price": item.price,
                f"line_items-{index}-quantity": item.quantity,
            }
        )
    return {**data, **overrides}


def claim_link(order: Order):
    """The claim the pay view makes before asking DOKU (call it inside a transaction, and commit it)."""
    from django_doku_checkout.services import claims, link_requests, links

    return links._claim(
        order,
        kind="checkout",
        build=lambda locked, invoice_number: link_requests.checkout_body(locked, invoice_number, None),
        ttl=claims.claim_ttl(),
    )


def assert_withdrawn(order: Order) -> None:
    """A link recorded after its order was cancelled: DOKU's answer kept, the link never handed out."""
    from django_doku_checkout.models import CheckoutSession, OrderStatus

    link = order.checkout_sessions.get()
    assert link.status == CheckoutSession.Status.CANCELLED
    assert link.payment_url
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


from tests.servers import gunicorn_shop  # noqa: E402,F401 - the fixture, for every test module
