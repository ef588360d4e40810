"""Reconciliation against the simulator's Status API: what notifications failed to deliver."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.models import CheckoutSession, Order, OrderEvent, OrderStatus
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.simulator.actions import settle
from django_doku_checkout.simulator.store import STORE
from django_doku_checkout.testing import CLIENT_ID as SIMULATOR_CLIENT_ID
from tests.doku import sale_after_an_outage

pytestmark = pytest.mark.django_db


def reconcile_command(*args: str) -> str:
    out = StringIO()
    call_command("doku_checkout_reconcile", "--min-age", "0", *args, stdout=out)
    return out.getvalue()


def test_a_dropped_notification_is_recovered_once(
    order_factory, doku_simulator, signal_log, django_capture_on_commit_callbacks
):
    order = order_factory()
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)
    assert order.status == OrderStatus.PENDING  # the notification never arrived

    with django_capture_on_commit_callbacks(execute=True):
        first = reconcile_command()
        second = reconcile_command()

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert f"{order.invoice_number}: changed (pending -> paid)" in first
    assert "Checked 1 order(s): 1 changed" in first
    assert "Checked 0 order(s)" in second  # paid orders are not checked again
    assert [entry[0] for entry in signal_log].count("payment_succeeded") == 1
    assert order.events.get(new_status=OrderStatus.PAID).source == OrderEvent.Source.RECONCILIATION


def test_dry_run_reports_and_changes_nothing(order_factory, doku_simulator):
    order = order_factory()
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)
    output = reconcile_command("--dry-run")
    assert f"{order.invoice_number}: would_change (pending -> paid)" in output
    assert output.rstrip().splitlines()[-1].startswith("Dry run, nothing changed.")
    order.refresh_from_db()
    session = order.checkout_sessions.get()
    assert order.status == OrderStatus.PENDING
    assert session.last_transaction_status == ""
    assert not order.events.filter(new_status=OrderStatus.PAID).exists()


def test_expired_at_doku_expires_the_order(
    order_factory, doku_simulator, signal_log, django_capture_on_commit_callbacks
):
    order = order_factory()
    doku_simulator.expire(order)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile_command()
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert ("payment_expired", order.invoice_number, "") in signal_log


def test_links_long_past_expiry_that_doku_does_not_know_are_expired(order_factory, doku_simulator):
    order = order_factory()
    session = services.create_payment_link(order)
    CheckoutSession.objects.filter(pk=session.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    STORE.reset()  # DOKU has no record of it: the Status API answers 404
    output = reconcile_command()
    order.refresh_from_db()
    session.refresh_from_db()
    assert "unknown to DOKU" in output
    assert session.status == CheckoutSession.Status.EXPIRED
    assert order.status == OrderStatus.EXPIRED


def test_a_payment_on_an_older_open_link_is_found(order_factory, doku_simulator):
    order = order_factory(customer_id="C1", customer_address="Jl. Sudirman 1", customer_country="ID")
    older = services.create_payment_link(order)
    newer = services.create_card_payment_page(order)  # staff also sent a card page; both are open
    doku_simulator.set_faults(drop_notifications=True)
    settle(STORE.find(SIMULATOR_CLIENT_ID, older.invoice_number), "pay", "QRIS")

    [line] = reconcile(min_age=timedelta(0)).orders

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert f"{older.invoice_number}: SUCCESS" in line.detail
    assert f"{newer.invoice_number}: PENDING" in line.detail


def test_status_api_down_fails_loudly_and_changes_nothing(order_factory, doku_simulator):
    order = order_factory()
    services.create_payment_link(order)
    doku_simulator.set_faults(error_rate=1)
    out = StringIO()
    with pytest.raises(CommandError, match="1 order\\(s\\) could not be checked"):
        call_command("doku_checkout_reconcile", "--min-age", "0", stdout=out)
    assert f"{order.invoice_number}: failed" in out.getvalue()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_filters_by_invoice_age_and_limit(order_factory, doku_simulator):
    orders = [order_factory() for _ in range(3)]
    for order in orders:
        services.create_payment_link(order)
    Order.objects.filter(pk=orders[0].pk).update(updated_at=timezone.now() - timedelta(hours=2))
    assert [line.invoice_number for line in reconcile(min_age=timedelta(hours=1)).orders] == [orders[0].invoice_number]
    assert len(reconcile(min_age=timedelta(0), limit=2).orders) == 2
    only = reconcile(min_age=timedelta(0), invoice_numbers=[orders[2].invoice_number])
    assert [line.invoice_number for line in only.orders] == [orders[2].invoice_number]


def test_bad_arguments_are_refused(db):
    with pytest.raises(CommandError, match="--limit"):
        call_command("doku_checkout_reconcile", "--limit", "0")


def test_a_delayed_notification_after_reconciliation_is_a_harmless_duplicate(
    order_factory, doku_simulator, signal_log, django_capture_on_commit_callbacks
):
    order = order_factory()
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)
    with django_capture_on_commit_callbacks(execute=True):
        reconcile(min_age=timedelta(0))
    assert doku_simulator.notify(order, "SUCCESS") == 200  # DOKU's retry arrives at last
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.notifications.get().outcome == "duplicate"
    assert [entry[0] for entry in signal_log].count("payment_succeeded") == 1


class Recording(requests.adapters.BaseAdapter):
    """The in-process simulator, noting which thread asked it and when."""

    def __init__(self, simulator: requests.adapters.BaseAdapter) -> None:
        super().__init__()
        self.simulator = simulator
        self.asked: list[tuple[str, float]] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.asked.append((threading.current_thread().name, time.monotonic()))
        return self.simulator.send(request, *args, **kwargs)

    def close(self) -> None:
        self.simulator.close()


@pytest.fixture
def recording(doku_simulator) -> Iterator[Recording]:
    recording = Recording(DokuClient.transport_adapter)
    DokuClient.transport_adapter = recording
    yield recording
    DokuClient.transport_adapter = recording.simulator


def test_workers_check_each_order_once_and_pay_each_payment_once(
    order_factory, doku_simulator, recording, signal_log, django_capture_on_commit_callbacks
):
    orders = sale_after_an_outage(order_factory, doku_simulator, paid=12, unpaid=12)
    recording.asked.clear()

    with django_capture_on_commit_callbacks(execute=True):
        summary = reconcile(min_age=timedelta(0), workers=4)
        again = reconcile(min_age=timedelta(0), workers=4)

    assert sorted(line.invoice_number for line in summary.orders) == sorted(o.invoice_number for o in orders)
    assert (summary.count("changed"), summary.count("unchanged"), summary.count("failed")) == (12, 12, 0)
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 12
    assert OrderEvent.objects.filter(new_status=OrderStatus.PAID).count() == 12
    assert [entry[0] for entry in signal_log].count("payment_succeeded") == 12
    assert len(again.orders) == 12  # the unpaid ones, still pending
    assert Order.objects.filter(status_check_claimed_until__isnull=False).count() == 0  # every claim released
    # 24 and 12 status requests, from the workers, never from the thread that holds the database.
    assert len(recording.asked) == 36
    assert {name for name, _ in recording.asked} <= {f"doku-reconcile_{n}" for n in range(4)}


def test_the_calling_thread_claims_and_reads_links_a_batch_at_a_time(order_factory, doku_simulator, recording):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(16):
        services.create_payment_link(order_factory())
    recording.asked.clear()

    with CaptureQueriesContext(connection) as queries:
        summary = reconcile(min_age=timedelta(0), workers=8)

    assert len(summary.orders) == 16
    assert len(recording.asked) == 16
    statements = [query["sql"] for query in queries.captured_queries]
    claims = [sql for sql in statements if sql.startswith("UPDATE") and "status_check_claimed_until\" = '" in sql]
    link_reads = [sql for sql in statements if sql.startswith("SELECT") and 'checkoutsession"."order_id" IN' in sql]
    # Two batches of eight: one lease each, and one read of their open links, not one per order.
    assert len(claims) == 2
    assert len(link_reads) == 2
    assert Order.objects.filter(status_check_claimed_until__isnull=False).count() == 0


def test_max_rate_spaces_the_requests_to_doku(order_factory, doku_simulator, recording):
    for _ in range(10):
        services.create_payment_link(order_factory())
    recording.asked.clear()

    summary = reconcile(min_age=timedelta(0), workers=4, max_rate=20)

    assert len(summary.orders) == 10
    times = sorted(at for _, at in recording.asked)
    # 10 requests at 20 a second: the last starts at least 9 intervals after the first
    # (in-process, without the limit, all ten take a few milliseconds).
    assert times[-1] - times[0] >= 9 / 20 * 0.95
    # and no second holds more than 20 + 1 of them.
    assert all(sum(1 for t in times if start <= t < start + 1) <= 21 for start in times)


def test_workers_and_rate_are_options_of_the_command(order_factory, doku_simulator):
    services.create_payment_link(order_factory())
    output = reconcile_command("--workers", "2", "--max-rate", "50")
    assert "Checked 1 order(s)" in output
    with pytest.raises(CommandError, match="--workers"):
        call_command("doku_checkout_reconcile", "--workers", "0")
    with pytest.raises(CommandError, match="--max-rate"):
        call_command("doku_checkout_reconcile", "--max-rate", "0")


def test_a_payment_settled_by_reconciliation_is_logged_loudly(order_factory, doku_simulator, caplog):
    order, other = order_factory(), order_factory()
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)  # DOKU took the money; its notification never arrived
    services.create_payment_link(other)  # still unpaid: nothing to say about it

    with caplog.at_level(logging.WARNING, logger="django_doku_checkout.reconciliation"):
        reconcile(min_age=timedelta(0))

    [record] = [r for r in caplog.records if r.name == "django_doku_checkout.reconciliation"]
    assert record.levelno == logging.WARNING
    assert order.invoice_number in record.getMessage()
    assert "notification never arrived" in record.getMessage()
    assert "check the notification URL in DOKU's back office" in record.getMessage()
