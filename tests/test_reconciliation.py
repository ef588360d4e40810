"""Reconciliation against the simulator's Status API: what notifications failed to deliver."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.models import CheckoutSession, Order, OrderEvent, OrderStatus
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.simulator.actions import settle
from django_doku_checkout.simulator.store import STORE
from django_doku_checkout.testing import CLIENT_ID as SIMULATOR_CLIENT_ID

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
    assert order.events.get(new_status=OrderStatus.PAID).source == OrderEvent.Source.STATUS_CHECK


def test_dry_run_reports_and_changes_nothing(order_factory, doku_simulator):
    order = order_factory()
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)
    output = reconcile_command("--dry-run")
    assert f"{order.invoice_number}: would_change (pending -> paid)" in output
    assert output.rstrip().splitlines()[-1].startswith("Dry run, nothing changed.")
    order.refresh_from_db()
    session = order.checkout_sessions.get()
    assert order.status == OrderStatus.PENDING and session.last_transaction_status == ""
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
    assert session.status == CheckoutSession.Status.EXPIRED and order.status == OrderStatus.EXPIRED


def test_a_payment_on_an_older_open_link_is_found(order_factory, doku_simulator):
    order = order_factory(customer_id="C1", customer_address="Jl. Sudirman 1", customer_country="ID")
    older = services.create_payment_link(order)
    newer = services.create_card_payment_page(order)  # staff also sent a card page; both are open
    doku_simulator.set_faults(drop_notifications=True)
    settle(STORE.find(SIMULATOR_CLIENT_ID, older.invoice_number), "pay", "QRIS")

    [line] = reconcile(min_age=timedelta(0)).orders

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert f"{older.invoice_number}: SUCCESS" in line.detail and f"{newer.invoice_number}: PENDING" in line.detail


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
