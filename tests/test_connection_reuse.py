"""The default path keeps one connection to DOKU alive per process and thread.

DOKU here is the simulator in a live server on 127.0.0.1, reached over real TCP; the
server counts the connections it accepts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.exceptions import DokuAPIError
from django_doku_checkout.models import OrderStatus
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services import shopper
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID


@pytest.fixture
def accepted(live_server: Any, live_doku: str) -> Iterator[list[int]]:
    """The connections the live server accepted, counted as it accepts them."""
    server = live_server.thread.httpd
    counted: list[int] = []
    original = server.get_request

    def get_request() -> Any:
        connection = original()
        counted.append(1)
        return connection

    server.get_request = get_request
    yield counted
    del server.get_request


def test_the_default_path_keeps_one_connection_to_doku(
    transactional_db, order_factory, accepted, client, doku_settings
):
    # On a loaded machine a 2 s timeout can expire, and its retry rightly opens a new connection.
    doku_settings(TIMEOUT=(20, 20), DEADLINE=25)
    orders = [order_factory() for _ in range(12)]
    for order in orders[:8]:
        services.create_payment_link(order)  # no client passed: as the admin's actions do
    for order in orders[:8]:
        services.check_status(order)
    for order in orders[8:]:
        assert client.post(reverse("doku_checkout:pay", args=[order.public_id])).status_code == 302
    assert client.get(reverse("doku_checkout:return", args=[orders[0].public_id])).status_code == 200
    # 12 links and 9 status checks from this thread: one connection (21 before: one per call).
    assert len(accepted) == 1

    summary = reconcile(min_age=timedelta(0), workers=1)
    summary = reconcile(min_age=timedelta(0), workers=1)

    # Two runs, 24 status checks from their worker threads: each thread keeps its own connection.
    assert len(summary.orders) == 12
    assert len(accepted) == 3


def test_the_return_page_asks_doku_on_the_shared_connection_within_its_own_budget(
    transactional_db, live_doku, order_factory, accepted, doku_settings
):
    doku_settings(TIMEOUT=(4, 9), MAX_RETRIES=2, STATUS_CHECK_DEADLINE=1.5)
    order = order_factory()
    services.create_payment_link(order)  # this thread's connection to DOKU, opened
    STORE.set_faults(CLIENT_ID, Faults(latency=5))  # DOKU answers later than the return page waits

    started = time.monotonic()
    shown = shopper.refresh_pending(order)
    took = time.monotonic() - started

    assert shown.status == OrderStatus.PENDING  # DOKU's answer never came in time: shown as it was
    assert took < 4.5  # one attempt of STATUS_CHECK_DEADLINE, not TIMEOUT's 9 s (with 2 retries)
    assert len(accepted) == 1  # on the connection the link was made on


def test_a_settings_change_gives_a_new_session(live_doku, doku_settings, accepted):
    first = DokuClient().session
    with pytest.raises(DokuAPIError):
        DokuClient().get_status("UNKNOWN-1")
    assert DokuClient().session is first

    doku_settings(MAX_RETRIES=1)
    second = DokuClient().session
    with pytest.raises(DokuAPIError):
        DokuClient().get_status("UNKNOWN-2")

    assert second is not first
    assert len(accepted) == 2


def test_each_thread_has_its_own_session(live_doku, accepted):
    sessions: dict[str, Any] = {}

    def ask(name: str) -> None:
        for index in range(5):
            sessions.setdefault(name, DokuClient().session)
            assert DokuClient().session is sessions[name]
            with pytest.raises(DokuAPIError):
                DokuClient().get_status(f"UNKNOWN-{name}-{index}")

    threads = [threading.Thread(target=ask, args=(f"t{number}",)) for number in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len({id(session) for session in sessions.values()}) == 3
    assert DokuClient().session not in sessions.values()
    assert len(accepted) == 3
