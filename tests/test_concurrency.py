"""Races that happen in production, run for real: a threaded live server on PostgreSQL.

Every request is served on its own thread with its own database connection, so the row
locks in the services are what keeps each race to one winner. SQLite serializes writers
by itself and would prove nothing, so these run only on PostgreSQL (``-m postgres``).
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial

import pytest
import requests
from django.db import connections

from django_doku_checkout import services
from django_doku_checkout.models import CheckoutSession, Notification, OrderEvent, OrderStatus
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, notification_sender, paid_quietly
from tests.races import at_once
from tests.waiting import wait_until_waiting_on_a_lock

pytestmark = pytest.mark.postgres


def test_fifty_identical_notifications_pay_the_order_once(live_doku, order_factory, signal_log):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    send = notification_sender(live_doku, order)

    codes = at_once(*[send] * 50)

    assert codes == [200] * 50
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.events.filter(new_status=OrderStatus.PAID).count() == 1
    assert [entry for entry in signal_log if entry[0] == "payment_succeeded"] == [
        ("payment_succeeded", order.invoice_number, "")
    ]
    outcomes = sorted(Notification.objects.values_list("outcome", flat=True))
    assert len(outcomes) == 50
    assert outcomes.count(Notification.Outcome.PROCESSED) == 1
    assert outcomes.count(Notification.Outcome.DUPLICATE) == 49
    assert not order.needs_review


def test_notification_and_shopper_return_at_once(live_doku, order_factory, signal_log):
    for _ in range(5):  # a few rounds, so both orders of arrival are exercised
        order = order_factory()
        services.create_payment_link(order)
        paid_quietly(order)
        shopper = requests.Session()

        def come_back(order=order, shopper=shopper) -> str:
            return shopper.get(f"{live_doku}/doku/return/{order.public_id}/", timeout=30).text

        code, page = at_once(notification_sender(live_doku, order), come_back)

        assert code == 200
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID
        assert order.events.filter(new_status=OrderStatus.PAID).count() == 1
        assert "doku-order-status-" in page
    paid_signals = [entry for entry in signal_log if entry[0] == "payment_succeeded"]
    assert len(paid_signals) == 5


def test_notification_and_status_check_at_once(live_doku, order_factory, signal_log):
    sources = set()
    for _ in range(5):
        order = order_factory()
        services.create_payment_link(order)
        paid_quietly(order)

        code, check = at_once(notification_sender(live_doku, order), partial(services.check_status, order))

        assert code == 200
        assert check.transaction_status == "SUCCESS"
        events = list(order.events.filter(new_status=OrderStatus.PAID))
        assert len(events) == 1
        sources.add(events[0].source)
    assert len([entry for entry in signal_log if entry[0] == "payment_succeeded"]) == 5
    assert sources <= {OrderEvent.Source.NOTIFICATION, OrderEvent.Source.STATUS_CHECK}


def test_two_staff_creating_links_at_once_get_one_live_session(live_doku, order_factory):
    STORE.set_faults(CLIENT_ID, Faults(latency=0.3))  # DOKU is slow: the race window is wide open
    order = order_factory()

    first, second = at_once(lambda: services.create_payment_link(order), lambda: services.create_payment_link(order))

    assert first.pk == second.pk
    assert CheckoutSession.objects.filter(order=order).count() == 1
    assert order.events.filter(new_status=OrderStatus.PENDING).count() == 1


def test_reconcile_on_two_machines_checks_each_order_once(live_doku, order_factory):
    orders = [order_factory() for _ in range(6)]
    for order in orders:
        services.create_payment_link(order)
        paid_quietly(order)
    STORE.set_faults(CLIENT_ID, Faults(latency=0.2))
    run = partial(reconcile, min_age=timedelta(0))

    first, second = at_once(run, run)

    checked = sorted(line.invoice_number for line in first.orders + second.orders)
    assert checked == sorted(order.invoice_number for order in orders)  # each by exactly one run
    assert first.skipped_locked + second.skipped_locked >= 1  # they did meet on a locked order
    for order in orders:
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID
        assert order.events.filter(new_status=OrderStatus.PAID).count() == 1


def test_admin_save_during_a_payment_keeps_the_payment(order_factory, admin_user, transactional_db):
    from django.db import transaction
    from django.test import Client
    from django.urls import reverse

    from django_doku_checkout.models import Order
    from tests.pages import change_form_data

    order = order_factory(status=OrderStatus.PENDING)
    # The shop's reference: what a paid order's page still lets staff change (its customer is then the record).
    data = change_form_data(order, reference="booking:42")
    statuses: list[int] = []

    def staff_saves_the_form() -> None:
        client = Client()
        client.force_login(admin_user)
        try:
            statuses.append(
                client.post(reverse("admin:django_doku_checkout_order_change", args=[order.pk]), data).status_code
            )
        finally:
            connections.close_all()

    with transaction.atomic():
        # A notification holds the order while it marks it paid.
        locked = locked_rows(Order.objects).get(pk=order.pk)
        staff = threading.Thread(target=staff_saves_the_form)
        staff.start()
        wait_until_waiting_on_a_lock(what="the admin's save, for the order's lock")
        locked.status = OrderStatus.PAID
        locked.save(update_fields=["status", "updated_at"])
    staff.join(timeout=10)
    order.refresh_from_db()
    assert statuses == [302]
    assert order.reference == "booking:42"
    assert order.status == OrderStatus.PAID  # without the lock on read, the save wrote "pending" back
