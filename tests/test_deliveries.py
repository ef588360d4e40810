"""Signal deliveries the way production runs them: autocommit, a live server, receivers that fail.

Every change records one delivery per receiver in its own transaction; each receiver is
called on its own after the commit, and one that raised is retried until it succeeds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signals
from django_doku_checkout.models import Delivery, Order, OrderStatus
from django_doku_checkout.services import after_response, states
from django_doku_checkout.services.locking import locked_rows
from tests.doku import notification_sender, paid_quietly
from tests.waiting import WAIT_SECONDS

#: What the shop's receivers did, in order: (receiver, invoice number, detail).
calls: list[tuple[str, str, str]] = []
#: How many more times each receiver raises before it works.
failures: dict[str, int] = {}


def crm_sync(sender, order, new_status, **kwargs):
    """A shop's CRM hook on every status change: the CRM is sometimes down."""
    if failures.get("crm_sync", 0) > 0:
        failures["crm_sync"] -= 1
        raise ConnectionError("CRM is down")
    calls.append(("crm_sync", order.invoice_number, new_status))


def ship(sender, order, delivery, **kwargs):
    """A shop's fulfilment: must run once per paid order, whatever the CRM does."""
    if failures.get("ship", 0) > 0:
        failures["ship"] -= 1
        raise TimeoutError("warehouse API timed out")
    calls.append(("ship", order.invoice_number, str(delivery.pk)))


#: The staff client ``crm_sync_looking`` asks with, and what the orders list showed it.
looking: dict[str, Any] = {}


def crm_sync_looking(sender, order, new_status, **kwargs):
    """The CRM hook that, while it is inside its call, asks the orders list which receivers failed."""
    listed = looking["client"].get(reverse("admin:django_doku_checkout_order_changelist"), {"delivery": "failed"})
    looking["listed"] = [listed_order.pk for listed_order in listed.context["cl"].result_list]
    looking["status"] = Delivery.objects.get(order=order).status


@pytest.fixture
def receivers() -> Iterator[None]:
    calls.clear()
    failures.clear()
    signals.order_status_changed.connect(crm_sync, weak=False)
    signals.payment_succeeded.connect(ship, weak=False)
    yield
    signals.order_status_changed.disconnect(crm_sync)
    signals.payment_succeeded.disconnect(ship)


def calls_of(name: str) -> list[tuple[str, str, str]]:
    return [call for call in calls if call[0] == name]


def test_a_receiver_failing_once_loses_no_fulfilment(live_doku, order_factory, receivers, signal_log):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    failures["crm_sync"] = 1
    send = notification_sender(live_doku, order)

    # The CRM hook raised, yet DOKU is answered 200 and the shop ships: the payment is committed.
    assert send() == 200
    assert after_response.wait_until_done(10)  # the receivers run once DOKU has its answer
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert len(calls_of("ship")) == 1
    assert ("payment_succeeded", order.invoice_number, "") in signal_log
    failed = Delivery.objects.get(order=order, receiver="tests.test_deliveries.crm_sync", event__new_status="paid")
    assert (failed.status, failed.attempts) == (Delivery.Status.PENDING, 1)
    assert "CRM is down" in failed.last_error
    assert timezone.now() + timedelta(seconds=50) < failed.next_attempt_at < timezone.now() + timedelta(seconds=70)

    # DOKU's retry is a duplicate and calls nobody again; the app retries the CRM itself.
    assert send() == 200
    assert after_response.wait_until_done(10)
    call_command("doku_checkout_deliver", verbosity=0)  # its backoff has not passed yet
    assert calls_of("crm_sync") == [("crm_sync", order.invoice_number, "pending")]
    call_command("doku_checkout_deliver", "--all", verbosity=0)
    assert calls_of("crm_sync")[-1] == ("crm_sync", order.invoice_number, "paid")
    call_command("doku_checkout_deliver", "--all", verbosity=0)

    # In the end every receiver ran exactly once for the payment.
    assert len(calls_of("ship")) == 1
    assert calls_of("crm_sync").count(("crm_sync", order.invoice_number, "paid")) == 1
    assert set(Delivery.objects.filter(order=order).values_list("status", flat=True)) == {Delivery.Status.DELIVERED}


def test_a_failing_receiver_never_turns_the_return_page_into_a_500(live_doku, order_factory, receivers):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)  # the notification is lost: the return page asks DOKU's Status API
    failures["crm_sync"] = 1
    failures["ship"] = 1

    page = requests.get(live_doku + reverse("doku_checkout:return", args=[order.public_id]), timeout=30)
    assert after_response.wait_until_done(10)  # the receivers run once the shopper has the page

    assert page.status_code == 200
    assert "Paid" in page.text
    assert Delivery.objects.filter(order=order, attempts=1, status=Delivery.Status.PENDING).count() == 2
    assert services.deliver_due(retry_all=True).failed == []
    assert len(calls_of("ship")) == 1


def test_a_failing_receiver_never_fails_a_status_check(live_doku, order_factory, receivers):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    failures["ship"] = 1

    check = services.check_status(order)

    assert (check.transaction_status, check.order.status) == ("SUCCESS", OrderStatus.PAID)
    assert Delivery.objects.get(order=order, receiver="tests.test_deliveries.ship").attempts == 1


def test_retries_back_off_then_give_up_and_flag_the_order(
    transactional_db, order_factory, receivers, doku_settings, signal_log
):
    doku_settings(DELIVERY_MAX_ATTEMPTS=3, DELIVERY_BACKOFF=60)
    order = order_factory()
    failures["crm_sync"] = 100
    services.cancel_order(order)  # autocommit: delivered (and failed) as the change commits
    delivery = Delivery.objects.get(order=order, receiver="tests.test_deliveries.crm_sync")

    def make_due() -> None:
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))

    waits = []
    for _ in range(2):
        delivery.refresh_from_db()
        waits.append(round((delivery.next_attempt_at - timezone.now()).total_seconds()))
        assert services.deliver_due().failed == []  # not due yet: nobody is called
        make_due()
        assert len(services.deliver_due().failed) == 1
    delivery.refresh_from_db()

    assert waits[0] in range(55, 61)
    assert waits[1] in range(115, 121)
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 3)
    order.refresh_from_db()
    assert order.needs_review
    assert "tests.test_deliveries.crm_sync of order_status_changed kept failing" in order.review_reason
    assert ("payment_needs_review", order.invoice_number, order.review_reason) in signal_log

    make_due()
    assert services.deliver_due().failed == []  # given up: only --all or the admin tries again
    failures["crm_sync"] = 0
    assert [d.pk for d in services.deliver_due(retry_all=True).delivered] == [delivery.pk]
    assert calls == [("crm_sync", order.invoice_number, OrderStatus.CANCELLED)]


def test_a_retry_by_hand_never_piles_up_the_reason_and_a_success_clears_it(
    transactional_db, order_factory, receivers, doku_settings, signal_log
):
    doku_settings(DELIVERY_MAX_ATTEMPTS=2)
    order = order_factory()
    failures["crm_sync"] = 100
    services.cancel_order(order)
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert len(services.deliver_due().failed) == 1  # the second attempt: given up
    order.refresh_from_db()
    given_up = order.review_reason
    assert given_up.count("\n") == 0
    assert "is no longer retried on its own" in given_up

    # Staff retry it before the CRM is back, from the admin and with deliver --all.
    assert len(services.deliver_due(retry_all=True).failed) == 1
    with pytest.raises(CommandError, match=r"^1 delivery\(ies\) failed again: 0 will be retried, 1 given up on "):
        call_command("doku_checkout_deliver", "--all", verbosity=0)
    order.refresh_from_db()
    assert order.review_reason == given_up
    assert "not retried any more" not in order.review_reason
    assert [entry for entry in signal_log if entry[0] == "payment_needs_review"] == [
        ("payment_needs_review", order.invoice_number, given_up)
    ]

    failures["crm_sync"] = 0
    assert len(services.deliver_due(retry_all=True).delivered) == 1
    order.refresh_from_db()
    assert order.review_reason == ""
    assert not order.needs_review


def test_a_success_clears_only_its_own_reason(transactional_db, order_factory, receivers, doku_settings):
    doku_settings(DELIVERY_MAX_ATTEMPTS=1)
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(needs_review=True, review_reason="DOKU reported another amount.")
    failures["crm_sync"] = 1
    services.cancel_order(order)  # given up at once
    order.refresh_from_db()
    assert len(order.review_reason.splitlines()) == 2

    assert len(services.deliver_due(retry_all=True).delivered) == 1
    order.refresh_from_db()
    assert order.review_reason == "DOKU reported another amount."
    assert order.needs_review


def test_a_rolled_back_change_announces_nothing(transactional_db, order_factory, receivers):
    order = order_factory()

    def the_shops_view() -> None:
        with transaction.atomic():
            locked = locked_rows(Order.objects).get(pk=order.pk)
            states.transition(locked, OrderStatus.CANCELLED, source="system")
            raise RuntimeError("the shop's view failed after the change")

    with pytest.raises(RuntimeError, match="failed after the change"):
        the_shops_view()
    assert calls == []
    assert not Delivery.objects.exists()


def test_a_receiver_that_is_gone_fails_visibly(transactional_db, order_factory, receivers):
    order = order_factory()
    failures["crm_sync"] = 1
    services.cancel_order(order)
    signals.order_status_changed.disconnect(crm_sync)  # the shop removed it in a deploy
    summary = services.deliver_due(retry_all=True)
    assert len(summary.failed) == 1
    assert "No receiver tests.test_deliveries.crm_sync is connected" in Delivery.objects.get().last_error


def test_staff_see_failed_deliveries_and_retry_them(transactional_db, order_factory, receivers, admin_client):
    paid, quiet = order_factory(), order_factory()
    failures["crm_sync"] = 1
    services.cancel_order(paid)
    services.cancel_order(quiet)  # its receiver worked

    changelist = reverse("admin:django_doku_checkout_order_changelist")
    listed = admin_client.get(changelist, {"delivery": "failed"})
    assert [order.pk for order in listed.context["cl"].result_list] == [paid.pk]
    page = admin_client.get(reverse("admin:django_doku_checkout_order_change", args=[paid.pk]))
    assert "CRM is down" in page.content.decode()
    assert "retry-deliveries" in page.content.decode()

    report = admin_client.post(changelist, {"action": "retry_deliveries", "_selected_action": [paid.pk, quiet.pk]})

    outcomes = {result.order.pk: result.outcome for result in report.context["results"]}
    assert outcomes == {paid.pk: "delivered", quiet.pk: "unchanged"}
    assert calls_of("crm_sync") == [
        ("crm_sync", quiet.invoice_number, OrderStatus.CANCELLED),
        ("crm_sync", paid.invoice_number, OrderStatus.CANCELLED),
    ]


def test_a_receiver_being_called_is_not_listed_as_failing(transactional_db, order_factory, admin_client):
    """The orders list's "a receiver failed" and the dashboard count the same deliveries: a receiver
    still inside its first call has not failed."""
    order = order_factory()
    looking.clear()
    looking["client"] = admin_client
    signals.order_status_changed.connect(crm_sync_looking, weak=False)
    try:
        services.cancel_order(order)
    finally:
        signals.order_status_changed.disconnect(crm_sync_looking)

    assert (looking["status"], looking["listed"]) == (Delivery.Status.SENDING, [])
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


@pytest.mark.postgres
def test_two_delivery_runs_at_once_call_a_receiver_once(transactional_db, order_factory, receivers):
    order = order_factory()
    failures["crm_sync"] = 1
    services.cancel_order(order)
    started, looked = threading.Event(), threading.Event()

    def slow_crm(sender, order, new_status, **kwargs):
        started.set()
        looked.wait(WAIT_SECONDS)  # the other run looks meanwhile
        calls.append(("crm_sync", order.invoice_number, new_status))

    slow_crm.__qualname__ = crm_sync.__qualname__  # the same receiver, now slow
    signals.order_status_changed.disconnect(crm_sync)
    signals.order_status_changed.connect(slow_crm, weak=False)
    results: list[services.DeliverySummary] = []

    def run() -> None:
        try:
            results.append(services.deliver_due(retry_all=True))
        finally:
            connections.close_all()

    first = threading.Thread(target=run)
    first.start()
    assert started.wait(WAIT_SECONDS)
    run()  # the other run, while the first is in the receiver
    looked.set()
    first.join()
    signals.order_status_changed.disconnect(slow_crm)

    assert calls_of("crm_sync") == [("crm_sync", order.invoice_number, OrderStatus.CANCELLED)]
    assert sorted(len(summary.delivered) for summary in results) == [0, 1]


# --- leases and claims: two runs, time controlled by the receivers ---------------------------------


@pytest.fixture
def clock(monkeypatch) -> list[timedelta]:
    """Django's clock, moved on by the test's receivers (``clock[0] += timedelta(minutes=6)``)."""
    offset = [timedelta(0)]
    real_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset[0])
    return offset


def due_delivery(order: Order, receiver: str) -> Delivery:
    """A failed delivery of the order's cancellation to ``receiver`` whose backoff has passed."""
    return Delivery.objects.create(
        order=order,
        signal="order_status_changed",
        receiver=receiver,
        arguments={"old_status": "pending", "new_status": "cancelled", "source": "admin"},
        status=Delivery.Status.PENDING,
        attempts=1,
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )


def test_each_claim_of_a_run_gets_its_own_lease(transactional_db, order_factory, clock):
    """A run that spent 6 minutes in a receiver claims the next delivery for a full lease, not an expired one."""
    first, second = order_factory(), order_factory()
    due_delivery(first, "tests.test_deliveries.crm_sync")
    late = due_delivery(second, "tests.test_deliveries.crm_sync")
    running: list[str] = []
    called: list[str] = []
    second_run: list[services.DeliverySummary] = []

    def slow_crm(sender, order, new_status, **kwargs):
        running.append(order.invoice_number)
        called.append(order.invoice_number)
        if order == first:
            clock[0] += timedelta(minutes=6)  # the CRM took six minutes
        elif len(running) == 1:
            # Meanwhile cron starts another run: the delivery this run holds is not due for it.
            second_run.append(services.deliver_due())
        running.pop()

    slow_crm.__qualname__ = crm_sync.__qualname__
    signals.order_status_changed.connect(slow_crm, weak=False)
    try:
        summary = services.deliver_due()
    finally:
        signals.order_status_changed.disconnect(slow_crm)

    assert called == [first.invoice_number, second.invoice_number]  # the second receiver ran once, not twice at once
    assert [len(run.delivered) for run in second_run] == [0]
    assert [delivery.pk for delivery in summary.delivered][-1] == late.pk
    late.refresh_from_db()
    assert (late.status, late.attempts) == (Delivery.Status.DELIVERED, 2)


def deliver_due_as_crm_sync(receiver) -> services.DeliverySummary:
    """Run ``deliver_due`` with ``receiver`` standing in for ``crm_sync`` (the deliveries name it)."""
    receiver.__qualname__ = crm_sync.__qualname__
    signals.order_status_changed.connect(receiver, weak=False)
    try:
        return services.deliver_due()
    finally:
        signals.order_status_changed.disconnect(receiver)


def test_a_late_failure_never_undoes_a_delivery_another_run_made(transactional_db, order_factory, clock):
    """Run A's lease runs out, run B takes the delivery over and delivers it; A's failure then arrives."""
    order = order_factory()
    delivery = due_delivery(order, "tests.test_deliveries.crm_sync")
    attempts: list[str] = []

    def stuck_crm(sender, order, new_status, **kwargs):
        attempts.append("B" if attempts else "A")
        if attempts == ["A"]:
            clock[0] += timedelta(minutes=6)  # A hangs past its lease...
            assert len(services.deliver_due().delivered) == 1  # ...B takes over and delivers
            raise ConnectionError("A's call to the CRM finally times out")

    summary = deliver_due_as_crm_sync(stuck_crm)

    assert attempts == ["A", "B"]
    delivery.refresh_from_db()
    # B's claim holds the delivery: A's outcome is not written over it, nothing is retried.
    assert (delivery.status, delivery.attempts, delivery.last_error) == (Delivery.Status.DELIVERED, 3, "")
    assert summary.delivered == []
    assert services.deliver_due(retry_all=True).delivered == []
    assert attempts == ["A", "B"]


def test_a_late_success_never_overwrites_the_failure_another_run_recorded(transactional_db, order_factory, clock):
    """Run A's lease runs out, run B takes over and fails; A's late success must not mark it delivered."""
    order = order_factory()
    delivery = due_delivery(order, "tests.test_deliveries.crm_sync")
    attempts: list[str] = []

    def stuck_crm(sender, order, new_status, **kwargs):
        attempts.append("B" if attempts else "A")
        if attempts == ["A"]:
            clock[0] += timedelta(minutes=6)
            assert len(services.deliver_due().failed) == 1
        elif attempts == ["A", "B"]:
            raise ConnectionError("CRM is down for B")

    deliver_due_as_crm_sync(stuck_crm)

    delivery.refresh_from_db()
    # B's failure stands: the delivery is retried (a receiver is called at least once, idempotent).
    assert (delivery.status, delivery.attempts) == (Delivery.Status.PENDING, 3)
    assert "CRM is down for B" in delivery.last_error


# --- receivers after the response, within the request's budget -----------------------------------


def test_receivers_run_after_the_answer_and_those_over_the_budget_are_left_due(
    transactional_db, doku_simulator, order_factory, monkeypatch
):
    """The first receiver spends the request's budget: the next is not started, and is due at once."""
    from django_doku_checkout.services import deliveries

    offset = [0.0]
    real = time.monotonic
    monkeypatch.setattr(deliveries, "time", type("Clock", (), {"monotonic": staticmethod(lambda: real() + offset[0])}))

    def slow_crm(sender, order, new_status, **kwargs):
        calls.append(("crm_sync", order.invoice_number, new_status))
        if new_status == OrderStatus.PAID:
            offset[0] += after_response.BUDGET  # the CRM took the whole budget

    slow_crm.__qualname__ = crm_sync.__qualname__
    calls.clear()
    signals.order_status_changed.connect(slow_crm, weak=False)
    signals.payment_succeeded.connect(ship, weak=False)
    try:
        order = order_factory()
        services.create_payment_link(order)
        calls.clear()
        assert doku_simulator.pay(order) == 200  # through Django's test client: the request's signals

        shipped = Delivery.objects.get(order=order, receiver="tests.test_deliveries.ship")
        # Not started: put back, its attempt not counted, due at once.
        assert (shipped.status, shipped.attempts) == (Delivery.Status.PENDING, 0)
        assert "doku_checkout_deliver calls it" in shipped.last_error
        assert shipped.next_attempt_at <= timezone.now()
        assert calls_of("ship") == []
        call_command("doku_checkout_deliver", verbosity=0)
    finally:
        signals.order_status_changed.disconnect(slow_crm)
        signals.payment_succeeded.disconnect(ship)

    assert calls == [
        ("crm_sync", order.invoice_number, OrderStatus.PAID),
        ("ship", order.invoice_number, str(shipped.pk)),
    ]
    shipped.refresh_from_db()
    assert (shipped.status, shipped.attempts) == (Delivery.Status.DELIVERED, 1)


def delivery_statements(run) -> list[str]:
    """The statements ``run`` sends that write a delivery's row after it was recorded."""
    from django.test.utils import CaptureQueriesContext

    table = Delivery._meta.db_table
    with CaptureQueriesContext(connections["default"]) as captured:
        run()
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith(f'UPDATE "{table}"')]


def test_receivers_called_right_after_the_commit_keep_the_lease_the_change_took(
    transactional_db, doku_simulator, order_factory, receivers
):
    """A change's deliveries are leased when it is recorded: called moments later, each costs one write, its outcome.

    Leasing it again would be a round trip per receiver in every notification and pay click of a sale.
    """
    order = order_factory()
    services.create_payment_link(order)
    calls.clear()
    written = delivery_statements(lambda: doku_simulator.pay(order))  # through Django's test client
    assert [call[0] for call in calls] == ["crm_sync", "ship"]
    assert len(written) == 2  # each delivery marked delivered, nothing more
    assert all('"status" = ' in sql for sql in written)
    assert set(Delivery.objects.filter(order=order).values_list("status", flat=True)) == {Delivery.Status.DELIVERED}


def test_a_receiver_started_late_in_its_request_is_leased_afresh(
    transactional_db, doku_simulator, order_factory, clock
):
    """The first receiver took minutes: the next one gets a full lease from its start, not what is left."""
    leased_for: list[timedelta] = []

    def slow_crm(sender, order, new_status, **kwargs):
        if new_status == OrderStatus.PAID:
            clock[0] += timedelta(minutes=3)  # of the 5-minute lease

    def ship_checking(sender, order, delivery, **kwargs):
        held = Delivery.objects.get(pk=delivery.pk)
        leased_for.append(held.next_attempt_at - timezone.now())

    slow_crm.__qualname__ = crm_sync.__qualname__
    ship_checking.__qualname__ = ship.__qualname__
    signals.order_status_changed.connect(slow_crm, weak=False)
    signals.payment_succeeded.connect(ship_checking, weak=False)
    try:
        order = order_factory()
        services.create_payment_link(order)
        assert doku_simulator.pay(order) == 200
    finally:
        signals.order_status_changed.disconnect(slow_crm)
        signals.payment_succeeded.disconnect(ship_checking)
    assert len(leased_for) == 1
    assert leased_for[0] > timedelta(minutes=4)


def test_outside_a_request_receivers_run_when_the_change_commits(transactional_db, order_factory, receivers):
    order = order_factory()
    services.cancel_order(order)  # a command, the shell, a task: no response to wait for
    assert calls == [("crm_sync", order.invoice_number, OrderStatus.CANCELLED)]
