"""The tests' fixtures and hooks, and nothing else.

Plain helpers live in modules named for what they hold, imported by the tests that use them:
:mod:`tests.doku` (the test merchant, DOKU's answers), :mod:`tests.pages` (forms a browser or
staff post), :mod:`tests.races` (threads released together, the database in use),
:mod:`tests.waiting` (bounded polls, a transaction waiting on a lock), :mod:`tests.claiming`,
:mod:`tests.example_shop`, :mod:`tests.servers` (gunicorn), :mod:`tests.signal_log`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
import responses as responses_lib
from django.core.servers.basehttp import WSGIServer

from django_doku_checkout.models import LineItem, Order
from tests.doku import CLIENT_ID, SECRET
from tests.example_shop import running_example_shop
from tests.races import on_postgresql
from tests.servers import gunicorn_shop  # noqa: F401 - the fixture, for every test module
from tests.signal_log import SIGNAL_NAMES, SignalLog

_invoice_counter = itertools.count(1)

# Django's development server listens with a backlog of 10 connections; the concurrency
# tests open 50 at once, as DOKU's retries and a busy shop do against a real server.
WSGIServer.request_queue_size = 128


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


@pytest.fixture
def signal_log():
    """Every app signal sent during the test, as (signal name, order invoice, extra)."""
    from django_doku_checkout import signals

    log = SignalLog()
    receivers = {}
    for name in SIGNAL_NAMES:

        def receiver(sender, order, _name=name, **kwargs):
            # A refund is logged by its amount: receivers get the Refund row itself.
            extra = kwargs["refund"].amount if "refund" in kwargs else kwargs.get("new_status") or kwargs.get("reason")
            log.append((_name, order.invoice_number, extra or ""))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False, dispatch_uid=f"signal_log_{name}")
    yield log
    for name in SIGNAL_NAMES:
        getattr(signals, name).disconnect(dispatch_uid=f"signal_log_{name}")


@pytest.fixture
def example_shop(tmp_path):
    """The example shop migrated, seeded and served on a fresh SQLite file (see ``running_example_shop``)."""
    with running_example_shop(tmp_path) as base:
        yield base
