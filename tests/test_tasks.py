"""Reconciliation enqueued as tasks of Django's task framework (django.tasks, or the django-tasks backport)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings

from django_doku_checkout.models import Order, OrderEvent, OrderStatus
from django_doku_checkout.tasks import enqueue_reconciliation, reconcile_orders
from tests.doku import sale_after_an_outage

pytestmark = pytest.mark.django_db

# The framework's own backend that runs each task as it is enqueued, in this process.
try:
    from django.tasks import TaskResultStatus

    IMMEDIATE = "django.tasks.backends.immediate.ImmediateBackend"
except ImportError:  # Django 5.2: the backport
    from django_tasks import TaskResultStatus  # type: ignore[assignment]

    IMMEDIATE = "django_tasks.backends.immediate.ImmediateBackend"


@pytest.fixture
def immediate_tasks():
    with override_settings(TASKS={"default": {"BACKEND": IMMEDIATE}}):
        yield


def test_a_sale_is_reconciled_in_batches_of_tasks(
    order_factory, doku_simulator, immediate_tasks, signal_log, django_capture_on_commit_callbacks
):
    orders = sale_after_an_outage(order_factory, doku_simulator, paid=3, unpaid=2)

    with django_capture_on_commit_callbacks(execute=True):
        results = enqueue_reconciliation(min_age=timedelta(0), batch_size=2, workers=2)

    assert [result.status for result in results] == [TaskResultStatus.SUCCESSFUL] * 3
    assert [result.args[0] for result in results] == [
        [o.invoice_number for o in orders[:2]],
        [o.invoice_number for o in orders[2:4]],
        [orders[4].invoice_number],
    ]
    totals = {key: sum(result.return_value[key] for result in results) for key in results[0].return_value}
    assert totals == {"changed": 3, "unchanged": 2, "failed": 0, "skipped": 0}
    assert Order.objects.filter(status=OrderStatus.PAID).count() == 3
    assert OrderEvent.objects.filter(new_status=OrderStatus.PAID, source=OrderEvent.Source.RECONCILIATION).count() == 3
    assert [entry[0] for entry in signal_log].count("payment_succeeded") == 3
    assert enqueue_reconciliation(min_age=timedelta(0), batch_size=2)[0].return_value["changed"] == 0


def test_a_task_checks_only_orders_still_pending_when_it_runs(order_factory, doku_simulator, immediate_tasks):
    order = order_factory()
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)
    paid = order_factory(status=OrderStatus.PAID)

    result = reconcile_orders.enqueue([order.invoice_number, paid.invoice_number])

    assert result.return_value == {"changed": 1, "unchanged": 0, "failed": 0, "skipped": 0}
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_bad_batch_size_is_refused(db):
    with pytest.raises(ValueError, match="batch_size"):
        enqueue_reconciliation(batch_size=0)
