"""``manage.py doku_checkout_health`` against the simulator over HTTP, with data made through the services.

Each finding a monitor reads, made the way production makes it: a notification DOKU never
delivered and reconciliation recovered, a signal receiver that gave up, a card refund DOKU
never answered, an order left pending, no reconciliation run at all; and each exit code.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signals
from django_doku_checkout.exceptions import DokuError
from django_doku_checkout.models import Delivery, Order, OrderEvent, OrderStatus, ReconciliationRun, Refund
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services.retention import KEEP_RECONCILIATION_RUNS, prune
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, SECRET, paid_quietly

TOKEN = "health-token-for-tests-0123456789abcdef"


def health(*args: str) -> tuple[int, str]:
    """The command's exit code and output, as cron and a monitor see them."""
    out = StringIO()
    try:
        call_command("doku_checkout_health", *args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue()
    return 0, out.getvalue()


def findings(output: str) -> dict[str, dict]:
    return {finding["name"]: finding for finding in json.loads(output)["findings"]}


def paid_with_notification(order_factory) -> Order:
    """An order paid at the simulator, DOKU's notification delivered to the shop over HTTP."""
    order = order_factory()
    link = services.create_payment_link(order)
    actions.settle(STORE.find(CLIENT_ID, link.invoice_number), "pay", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order


def reconciled() -> None:
    """One reconciliation run, as cron starts it."""
    call_command("doku_checkout_reconcile", "--min-age", "0", verbosity=0)


@pytest.fixture
def healthy_shop(live_doku, order_factory) -> Order:
    """A shop whose notifications arrive and whose reconciliation ran a minute ago."""
    order = paid_with_notification(order_factory)
    reconciled()
    return order


def test_a_healthy_shop_exits_0(healthy_shop):
    code, output = health()
    assert code == 0
    assert output.splitlines()[0] == "OK: DOKU Checkout is healthy."
    assert "verified notification" in output


def test_a_payment_recovered_by_reconciliation_warns_and_names_the_order(live_doku, order_factory, caplog):
    paid_with_notification(order_factory)
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)  # DOKU took the money; its notification never arrived

    with caplog.at_level(logging.WARNING, logger="django_doku_checkout.reconciliation"):
        reconciled()

    [record] = [r for r in caplog.records if r.name == "django_doku_checkout.reconciliation"]
    assert record.levelno == logging.WARNING
    assert order.invoice_number in record.getMessage()
    assert "notification never arrived" in record.getMessage()
    assert "notification URL in DOKU's back office" in record.getMessage()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    code, output = health("--json")
    assert code == 1
    recovered = findings(output)["recovered_payments"]
    assert (recovered["status"], recovered["count"]) == ("warning", 1)
    assert recovered["invoice_numbers"] == [order.invoice_number]
    assert json.loads(output)["status"] == "warning"


def test_a_status_check_from_the_return_page_logs_no_warning(live_doku, order_factory, caplog):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    with caplog.at_level(logging.WARNING):
        services.check_status(order)  # the return page's check: the notification may still come
    assert not [r for r in caplog.records if r.name == "django_doku_checkout.reconciliation"]
    assert not OrderEvent.objects.filter(source=OrderEvent.Source.RECONCILIATION).exists()


def failing_crm(sender, order, **kwargs):
    """A shop's CRM hook whose CRM is down for good."""
    raise ConnectionError("CRM is down")


def test_a_receiver_that_gave_up_is_critical(healthy_shop, order_factory, doku_settings):
    doku_settings(DELIVERY_MAX_ATTEMPTS=1)
    signals.order_status_changed.connect(failing_crm, weak=False)
    try:
        order = order_factory()
        services.cancel_order(order)  # autocommit: delivered, and failed, as it commits
    finally:
        signals.order_status_changed.disconnect(failing_crm)
    assert Delivery.objects.get(order=order).status == Delivery.Status.FAILED

    code, output = health("--json")

    assert code == 2
    deliveries = findings(output)["deliveries"]
    assert (deliveries["status"], deliveries["count"]) == ("critical", 1)
    assert "doku_checkout_deliver --all" in deliveries["message"]
    assert json.loads(output)["status"] == "critical"


def test_a_receiver_still_retrying_warns(healthy_shop, order_factory):
    signals.order_status_changed.connect(failing_crm, weak=False)
    try:
        services.cancel_order(order_factory())
    finally:
        signals.order_status_changed.disconnect(failing_crm)
    code, output = health("--json")
    assert code == 1
    assert findings(output)["deliveries"]["status"] == "warning"


def test_a_refund_doku_never_answered_warns_once_old(healthy_shop, doku_settings):
    doku_settings(HEALTH_REFUND_STUCK_AGE=3600)
    STORE.set_faults(CLIENT_ID, Faults(timeout_rate=1, timeout_seconds=2.5))  # DOKU answers too late
    with pytest.raises(DokuError):
        services.refund_payment(healthy_shop)  # a void of the whole amount
    STORE.set_faults(CLIENT_ID, Faults())
    assert STORE.wait_until_idle(10)
    refund = healthy_shop.refunds.get()
    assert refund.status == Refund.Status.REQUESTED
    assert health()[0] == 0  # just asked: reconciliation resends it

    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(hours=2))
    code, output = health("--json")

    assert code == 1
    stuck = findings(output)["refunds"]
    assert (stuck["status"], stuck["count"]) == ("warning", 1)
    assert stuck["invoice_numbers"] == [healthy_shop.invoice_number]


def test_an_order_pending_too_long_warns(healthy_shop, order_factory, doku_settings):
    doku_settings(HEALTH_PENDING_AGE=6 * 3600)
    order = order_factory()
    services.create_payment_link(order)
    assert health()[0] == 0
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=7))

    code, output = health()

    assert code == 1
    assert f"1 order(s) pending for more than 6 hours, the oldest {order.invoice_number} created 7 hours ago" in output


def test_no_reconciliation_run_is_critical(live_doku, order_factory):
    paid_with_notification(order_factory)
    code, output = health("--json")
    assert code == 2
    run = findings(output)["reconciliation"]
    assert run["status"] == "critical"
    assert "doku_checkout_reconcile" in run["message"]


def test_a_reconciliation_run_too_long_ago_is_critical(healthy_shop, doku_settings):
    doku_settings(HEALTH_RECONCILE_MAX_AGE=3600)
    ReconciliationRun.objects.update(
        started_at=timezone.now() - timedelta(hours=2), finished_at=timezone.now() - timedelta(hours=2)
    )
    code, output = health()
    assert code == 2
    assert "CRITICAL" in output.splitlines()[0]


def test_a_run_that_could_not_ask_doku_warns(live_doku, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    STORE.set_faults(CLIENT_ID, Faults(error_rate=1))  # DOKU answers 500 to everything
    reconcile(min_age=timedelta(0))
    STORE.set_faults(CLIENT_ID, Faults())

    run = ReconciliationRun.objects.get()
    assert (run.checked, run.failed, run.error) == (1, 1, "")
    assert run.finished_at is not None
    assert findings(health("--json")[1])["reconciliation"]["status"] == "warning"


def test_a_run_records_its_start_and_end(live_doku, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    before = timezone.now()
    reconcile(min_age=timedelta(0))
    reconcile(min_age=timedelta(0), dry_run=True)  # a dry run changes nothing, and is not recorded

    run = ReconciliationRun.objects.get()
    assert run.finished_at is not None
    assert before <= run.started_at <= run.finished_at <= timezone.now()
    assert (run.checked, run.changed, run.failed) == (1, 1, 0)
    assert run.host


def test_prune_deletes_old_runs_but_keeps_the_newest(db):
    old = timezone.now() - KEEP_RECONCILIATION_RUNS - timedelta(days=1)
    ReconciliationRun.objects.create(started_at=old - timedelta(days=1), finished_at=old)
    newest = ReconciliationRun.objects.create(started_at=old, finished_at=old)
    assert prune().reconciliation_runs == 1  # cron stopped long ago: its last run still says when
    assert list(ReconciliationRun.objects.values_list("pk", flat=True)) == [newest.pk]
    recent = ReconciliationRun.objects.create()
    assert prune().reconciliation_runs == 1
    assert list(ReconciliationRun.objects.values_list("pk", flat=True)) == [recent.pk]


def test_the_output_holds_no_secret(healthy_shop, order_factory, doku_settings):
    doku_settings(HEALTH_TOKEN=TOKEN)
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    reconciled()
    for args in ((), ("--json",)):
        output = health(*args)[1]
        for secret in (settings.SECRET_KEY, SECRET, TOKEN, healthy_shop.customer_email, healthy_shop.customer_name):
            assert secret not in output


def test_staff_read_the_runs_in_the_admin_and_change_nothing(admin_client):
    run = ReconciliationRun.objects.create(host="cron-1", finished_at=timezone.now(), checked=3, changed=1)
    listing = admin_client.get(reverse("admin:django_doku_checkout_reconciliationrun_changelist"))
    assert listing.status_code == 200
    assert "cron-1" in listing.content.decode()
    assert "Last progress" in listing.content.decode()  # a run killed midway shows when it was last seen
    assert admin_client.get(reverse("admin:django_doku_checkout_reconciliationrun_add")).status_code == 403
    page = admin_client.get(reverse("admin:django_doku_checkout_reconciliationrun_change", args=[run.pk]))
    assert page.status_code == 200
    assert 'name="host"' not in page.content.decode()  # read-only
    delete = reverse("admin:django_doku_checkout_reconciliationrun_delete", args=[run.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert ReconciliationRun.objects.filter(pk=run.pk).exists()


def test_a_database_it_cannot_read_is_unknown(db):
    # A table gone (a shop that never ran migrate): dropped in the test's transaction, rolled back after it.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {ReconciliationRun._meta.db_table}")
    code, output = health("--json")
    assert code == 3
    assert json.loads(output)["status"] == "unknown"
    assert "could not read the database" in json.loads(output)["message"]
    assert health()[1].startswith("UNKNOWN: ")
