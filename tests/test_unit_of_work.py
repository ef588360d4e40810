"""The unit of work: one generated statement on PostgreSQL, saves elsewhere; the same rows either way.

Every locked section locks with the ORM, decides in Python and flushes one unit of work
(``services/unit_of_work.py``). On PostgreSQL the flush is one statement unless a shop's
``pre_save``/``post_save`` receivers (or its router) need ``Model.save``: the equivalence
tests below run each change both ways from the same rows and compare every concrete field
of every row in the app's tables.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections, transaction
from django.db.models import Model
from django.db.models.signals import post_save, pre_save
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.connection import ConnectionDoesNotExist

import django_doku_checkout
from django_doku_checkout import reconciliation, services, signatures
from django_doku_checkout.client import STATUS_PATH
from django_doku_checkout.models import (
    CheckoutSession,
    Delivery,
    LineItem,
    Notification,
    Order,
    OrderEvent,
    OrderStatus,
    Refund,
)
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.services import link_claims, states
from django_doku_checkout.services.deliveries import lease
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.orders import withdraw_payment_links
from django_doku_checkout.services.unit_of_work import Writes
from django_doku_checkout.signals import order_status_changed
from django_doku_checkout.simulator.store import STORE
from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY
from tests.claiming import assert_withdrawn, claim_link
from tests.doku import SANDBOX, checkout_success
from tests.link_workers import while_doku_is_asked
from tests.waiting import WAIT_SECONDS, wait_until_waiting_on_a_lock

ONE_STATEMENT = connection.vendor == "postgresql"
#: Every table a change of the app may write.
TABLES: tuple[type[Model], ...] = (Order, LineItem, CheckoutSession, Notification, OrderEvent, Delivery, Refund)


# --- equivalence: the generated statement and Model.save write the same rows ------------------------


def every_row() -> dict[type[Model], dict[Any, dict[str, Any]]]:
    """Every concrete field of every row of the app's tables, by model and primary key."""
    return {
        model: {
            row[model._meta.pk.attname]: row
            for row in model._default_manager.order_by().values(
                *(field.attname for field in model._meta.concrete_fields)
            )
        }
        for model in TABLES
    }


def comparable(rows: dict, before: dict, started: datetime, ended: datetime) -> dict:
    """``rows`` with what must differ between two runs (new keys, the clock) named instead of valued.

    Rows inserted by the run get keys in the order they were inserted (and references to
    them those names); a time within the run reads "written" (or "written +
    DELIVERY_LEASE"). Every other value is compared as it is.
    """
    inserted = {
        model: {
            pk: f"new {model.__name__} #{number}" for number, pk in enumerate(sorted(set(found) - set(before[model])))
        }
        for model, found in rows.items()
    }

    def value(field: Any, raw: Any) -> Any:
        target = field.related_model if field.is_relation else field.model
        if (field.primary_key or field.is_relation) and raw in inserted.get(target, {}):
            return inserted[target][raw]
        if isinstance(raw, datetime) and started <= raw <= ended:
            return "written"
        if isinstance(raw, datetime) and started + lease() <= raw <= ended + lease():
            return "written + DELIVERY_LEASE"  # a delivery's first attempt, leased
        return raw

    return {
        model.__name__: sorted(
            (
                {field.attname: value(field, row[field.attname]) for field in model._meta.concrete_fields}
                for row in found.values()
            ),
            key=repr,
        )
        for model, found in rows.items()
    }


def shops_hook(sender: type[Model], **kwargs: Any) -> None:
    """An audit-log app's receiver, connected for every model."""
    HOOKED.append(sender.__name__)


HOOKED: list[str] = []


def both_ways(change: Callable[[], object]) -> tuple[dict, dict, list[str], list[str]]:
    """Run ``change`` from the same rows twice: as is, and with a shop's pre_save and post_save hooks.

    Returns what each run left in every table (comparable) and the SQL each ran.
    """
    before = every_row()
    with transaction.atomic():  # a savepoint, rolled back: the second run starts from the same rows
        started = timezone.now()
        with CaptureQueriesContext(connection) as generated:
            change()
        one_way = comparable(every_row(), before, started, timezone.now())
        transaction.set_rollback(True)
    HOOKED.clear()
    pre_save.connect(shops_hook, dispatch_uid="shop")
    post_save.connect(shops_hook, dispatch_uid="shop")
    try:
        started = timezone.now()
        with CaptureQueriesContext(connection) as saved:
            change()
        other_way = comparable(every_row(), before, started, timezone.now())
    finally:
        pre_save.disconnect(dispatch_uid="shop")
        post_save.disconnect(dispatch_uid="shop")
    assert one_way != comparable(before, before, started, started), "the change wrote nothing"
    return (
        one_way,
        other_way,
        [q["sql"] for q in generated.captured_queries],
        [q["sql"] for q in saved.captured_queries],
    )


def generated_statements(sql: list[str]) -> list[str]:
    return [statement for statement in sql if statement.startswith("WITH ")]


def assert_same_rows_both_ways(change: Callable[[], object], *, statements: int, saves: list[str]) -> None:
    one_way, other_way, generated, saved = both_ways(change)
    assert len(generated_statements(generated)) == statements  # the unit of work's statement ran
    assert generated_statements(saved) == []  # and with the shop's hooks, saves only
    assert sorted(HOOKED) == sorted([name for model in saves for name in (model, model)])  # pre and post
    assert one_way == other_way


@pytest.fixture
def receiver_of_every_change():
    """A shop's receiver of order_status_changed: the changes record its deliveries too."""
    order_status_changed.connect(lambda sender, **kwargs: None, dispatch_uid="crm", weak=False)
    yield
    order_status_changed.disconnect(dispatch_uid="crm")


def notify_body(link: CheckoutSession, *, amount: int, status: str = "SUCCESS") -> dict[str, Any]:
    body = encode_body(
        {
            "order": {"invoice_number": link.invoice_number, "amount": amount},
            "transaction": {"status": status, "original_request_id": "DOKU-REQ-1"},
            "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
        }
    )
    path = reverse("doku_checkout:notification")
    keys = django_settings.DOKU_CHECKOUT  # this test's shop, signed as DOKU signs for it
    headers = signatures.signed_headers(keys["SECRET_KEY"], client_id=keys["CLIENT_ID"], target=path, body=body)
    return {"body": body, "headers": headers, "path": path}


@pytest.mark.postgres
@pytest.mark.parametrize("by_staff", [False, True])
def test_recording_a_link_writes_the_same_rows_both_ways(
    order_factory, doku_api, admin_user, receiver_of_every_change, by_staff
):
    doku_api.post(SANDBOX + "/checkout/v1/payment", json=checkout_success())
    order = order_factory()
    with transaction.atomic():
        claim = claim_link(order)

    def record() -> None:
        # The claim as committed: each run starts from the row, not from the other run's copy.
        session = CheckoutSession.objects.get(pk=claim.link.pk)
        link_claims.complete(
            link_claims.CREATE_LINK.claim_of(session), client=None, actor=admin_user if by_staff else None
        )

    # The link, the order and its event; the receiver's delivery is recorded after the statement.
    assert_same_rows_both_ways(record, statements=1, saves=["CheckoutSession", "Order", "OrderEvent"])


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("status", "amount", "paid_before"),
    [
        ("SUCCESS", None, False),  # paid: the order, its event, the link, the notification's outcome
        ("EXPIRED", None, False),  # the newest link expired: the order expires
        ("FAILED", None, False),  # recorded on the link only
        ("SUCCESS", None, True),  # a duplicate
        ("SUCCESS", 1, False),  # a wrong amount: flagged for staff
    ],
)
def test_a_notification_writes_the_same_rows_both_ways(
    order_factory, doku_api, receiver_of_every_change, status, amount, paid_before
):
    doku_api.post(SANDBOX + "/checkout/v1/payment", json=checkout_success())
    order = order_factory()
    link = services.create_payment_link(order)
    if paid_before:
        services.handle_notification(**notify_body(link, amount=order.amount))
    request = notify_body(link, amount=order.amount if amount is None else amount, status=status)

    def notify() -> None:
        answer = services.handle_notification(**request)
        assert answer.status_code == 200, answer.message

    # The notification's row is inserted on its own first (committed before it is applied).
    one_way, other_way, generated, saved = both_ways(notify)
    assert len(generated_statements(generated)) == 2
    # Every row the change writes is in its unit of work (deliveries are recorded after it).
    delivery_table = Delivery._meta.db_table
    assert [sql for sql in generated if sql.startswith(("UPDATE", "INSERT")) and delivery_table not in sql] == []
    assert generated_statements(saved) == []
    assert "Notification" in HOOKED
    assert one_way == other_way


@pytest.mark.postgres
def test_expiring_overdue_links_writes_the_same_rows_both_ways(order_factory, doku_api, receiver_of_every_change):
    doku_api.post(SANDBOX + "/checkout/v1/payment", json=checkout_success())
    order = order_factory()
    link = services.create_payment_link(order)
    order.checkout_sessions.update(expires_at=timezone.now() - timedelta(hours=1))
    doku_api.get(SANDBOX + STATUS_PATH.format(identifier=link.invoice_number), status=404)  # DOKU forgot it

    def expire() -> None:
        summary = reconciliation.reconcile(min_age=timedelta(0), invoice_numbers=[order.invoice_number])
        assert [line.new_status for line in summary.orders] == [OrderStatus.EXPIRED]

    # The run's own record is saved at its start and its end, outside the unit of work.
    run = ["ReconciliationRun", "ReconciliationRun"]
    assert_same_rows_both_ways(expire, statements=1, saves=["CheckoutSession", "Order", "OrderEvent", *run])


@pytest.mark.postgres
def test_saving_a_row_twice_writes_the_same_rows_both_ways(order_factory):
    order = order_factory()

    def change() -> None:
        current = Order.objects.get(pk=order.pk)
        current.status, current.needs_review, current.review_reason = OrderStatus.EXPIRED, True, "late"
        writes = Writes()
        writes.save(current, ["status"])
        writes.insert(OrderEvent(order=current, old_status="created", new_status="expired", source="system"))
        writes.save(current, ["needs_review", "review_reason", "status"])
        writes.flush()

    assert_same_rows_both_ways(change, statements=1, saves=["Order", "OrderEvent"])


def test_writes_save_a_row_once_with_every_field_asked_and_set_inserted_keys(order_factory, django_assert_num_queries):
    order = order_factory()
    order.status, order.needs_review = OrderStatus.EXPIRED, True
    event = OrderEvent(order=order, old_status=OrderStatus.CREATED, new_status=OrderStatus.EXPIRED, source="system")
    writes = Writes()
    writes.save(order, ["status"])
    writes.insert(event)
    writes.save(order, ["needs_review", "status"])
    seen: list[int | None] = []
    writes.then(lambda: seen.append(event.pk))
    with django_assert_num_queries(1 if ONE_STATEMENT else 2):  # the order once, the event
        writes.flush()

    assert seen == [event.pk]
    assert OrderEvent.objects.get(pk=event.pk).new_status == OrderStatus.EXPIRED
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.EXPIRED, True)


class OrdersElsewhere:
    """A shop's router that writes orders to another database."""

    def db_for_write(self, model, **hints):
        return "elsewhere" if model is Order else None


def test_a_shops_router_decides_where_the_unit_of_work_writes(settings, order_factory):
    order = order_factory()
    order.needs_review = True
    settings.DATABASE_ROUTERS = [OrdersElsewhere()]
    writes = Writes()
    writes.save(order, ["needs_review"])
    # Saved as the router says (this project has no "elsewhere"), never into the default database.
    with pytest.raises(ConnectionDoesNotExist):
        writes.flush()


def test_no_sql_is_written_by_hand_outside_the_unit_of_work():
    """Only the flush talks SQL: nothing else executes statements, raw queries or SQL fragments."""
    package = Path(django_doku_checkout.__file__).parent
    by_hand = []
    for path in sorted(package.rglob("*.py")):
        if "migrations" in path.parts or path.name == "unit_of_work.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            function = node.func
            name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
            if name in ("cursor", "execute", "executemany", "raw", "extra", "RawSQL"):
                by_hand.append(f"{path.relative_to(package)}:{node.lineno} {name}")
    assert by_hand == []


# --- the record of a link: what it writes, and its lock --------------------------------------------


def event_columns(order: Order) -> list[dict]:
    return list(
        order.events.values("old_status", "new_status", "source", "actor_id", "notification_id", "note").order_by("id")
    )


@pytest.mark.parametrize("by_staff", [False, True])
def test_recording_a_link_moves_the_order_to_pending_once(order_factory, doku_simulator, admin_user, by_staff):
    actor = admin_user if by_staff else None
    order = order_factory()
    link = services.create_payment_link(order, actor=actor)
    assert order.status == OrderStatus.PENDING  # the caller's copy learns
    assert link.status == CheckoutSession.Status.OPEN
    [event] = event_columns(order)
    assert event["note"] == f"DOKU Checkout {link.invoice_number} created."
    assert event["old_status"] == OrderStatus.CREATED
    assert event["source"] == ("admin" if by_staff else "shopper")
    assert event["actor_id"] == (admin_user.pk if by_staff else None)
    updated_at = order.updated_at
    order.refresh_from_db()
    assert (order.status, order.updated_at) == (OrderStatus.PENDING, updated_at)
    # A second link for a pending order saves the link and leaves the order and its history alone.
    link.status = CheckoutSession.Status.EXPIRED
    link.save(update_fields=["status"])
    again = services.create_payment_link(order)
    assert again.pk != link.pk
    assert again.status == CheckoutSession.Status.OPEN
    assert order.events.count() == 1


def test_a_shops_own_hooks_see_every_save_of_a_link_and_its_record(order_factory, doku_simulator):
    saved: list[str] = []

    def shops_receiver(sender, **kwargs):
        saved.append(sender.__name__)

    # An audit-log app's receiver, for every model. (Before, the record's save of the link
    # was a QuerySet.update: no receiver saw it.)
    order = order_factory()
    pre_save.connect(shops_receiver, dispatch_uid="shop")
    try:
        services.create_payment_link(order)
    finally:
        pre_save.disconnect(dispatch_uid="shop")
    assert sorted(saved) == ["CheckoutSession", "CheckoutSession", "Order", "OrderEvent"]  # claim, record


def test_a_shops_own_hooks_see_every_save_of_a_cancellation_at_doku(order_factory, doku_simulator, doku_settings):
    """The cancellation's claim and DOKU's answer were QuerySet.updates: no receiver saw them."""
    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    services.create_payment_link(order)
    saved: list[frozenset[str]] = []

    def shops_receiver(sender, update_fields=None, **kwargs):
        if sender is CheckoutSession:
            saved.append(frozenset(update_fields or ()))

    pre_save.connect(shops_receiver, dispatch_uid="shop")
    try:
        services.cancel_order(order)
    finally:
        pre_save.disconnect(dispatch_uid="shop")
    assert {"cancel_request_id", "cancel_request_payload", "cancel_claimed_at"} in saved  # the claim
    assert {"cancelled_at_doku", "doku_cancel_error", "cancel_request_payload"} in saved  # DOKU's yes
    assert {"status", "updated_at"} in saved  # withdrawn with the order


def test_a_receiver_of_order_status_changed_still_gets_its_delivery(
    order_factory, doku_simulator, django_capture_on_commit_callbacks
):
    heard: list[str] = []

    def shops_receiver(sender, order, new_status, **kwargs):
        heard.append(new_status)

    order_status_changed.connect(shops_receiver, dispatch_uid="shop")
    try:
        order = order_factory()
        with django_capture_on_commit_callbacks(execute=True):
            services.create_payment_link(order)
    finally:
        order_status_changed.disconnect(dispatch_uid="shop")
    assert heard == [OrderStatus.PENDING]
    assert Delivery.objects.get(order=order).status == Delivery.Status.DELIVERED


class Holder(threading.Thread):
    """A thread whose failure is the test's: ``join`` raises what ``run`` raised."""

    error: BaseException | None = None

    def run(self) -> None:
        try:
            super().run()
        except BaseException as err:  # noqa: BLE001 - raised again by join
            self.error = err

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def hold_the_order(order: Order, change=None, *, waiters: int = 1, late_change=None) -> tuple[Holder, threading.Event]:
    """Another transaction that locks ``order``, runs ``change`` with it and commits once
    ``waiters`` other transactions wait on a lock (PostgreSQL's ``pg_stat_activity``).

    ``late_change`` runs then, just before the commit. What ``change`` returns, if anything,
    runs after the commit. If nobody waits, the holder's ``join`` raises: the test's
    transaction never reached the lock.
    """
    locked = threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                held = locked_rows(Order.objects).get(pk=order.pk)
                after = change(held) if change else None
                locked.set()
                wait_until_waiting_on_a_lock(waiters, what="the test's transaction, for the order's lock")
                if late_change:
                    late_change(held)
            if after is not None:
                after()
        finally:
            connections.close_all()

    thread = Holder(target=run)
    thread.start()
    assert locked.wait(WAIT_SECONDS)
    return thread, locked


@pytest.mark.postgres
def test_the_record_waits_for_a_cancellation_and_withdraws_the_link(transactional_db, order_factory, doku_simulator):
    order = order_factory()
    staff: list[threading.Thread] = []

    def staff_cancel(held: Order) -> None:
        writes = Writes()
        states.transition(held, OrderStatus.CANCELLED, source=OrderEvent.Source.ADMIN, writes=writes)
        withdraw_payment_links(held, writes)
        writes.flush()

    def staff_cancel_while_doku_is_asked() -> None:
        staff.append(hold_the_order(order, staff_cancel)[0])

    with while_doku_is_asked(staff_cancel_while_doku_is_asked), pytest.raises(services.OrderNotPayable):
        services.create_payment_link(order)
    staff[0].join()  # the staff commit only once the record waits for the order's lock

    assert_withdrawn(order)
    assert list(order.events.values_list("new_status", flat=True)) == [OrderStatus.CANCELLED]


# --- notifications: the order's change, its link and the outcome in one unit of work ---------------


def notify(link: CheckoutSession, *, amount: int, status: str = "SUCCESS") -> Notification:
    body = encode_body(
        {
            "order": {"invoice_number": link.invoice_number, "amount": amount},
            "transaction": {"status": status, "original_request_id": "DOKU-REQ-1"},
            "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
        }
    )
    path = reverse("doku_checkout:notification")
    headers = signatures.signed_headers(SECRET_KEY, client_id=CLIENT_ID, target=path, body=body)
    answer = services.handle_notification(body=body, headers=headers, path=path)
    assert answer.status_code == 200, answer.message
    assert answer.notification is not None
    return answer.notification


def test_a_paying_notification_pays_once_and_delivers_each_signal_after_the_commit(
    order_factory, doku_simulator, django_capture_on_commit_callbacks, signal_log
):
    order = order_factory()
    link = services.create_payment_link(order)
    with django_capture_on_commit_callbacks(execute=True):
        paid = notify(link, amount=order.amount)

    order.refresh_from_db()
    link.refresh_from_db()
    assert (order.status, order.paid_link_id, order.paid_at is not None) == (OrderStatus.PAID, link.pk, True)
    assert (link.status, link.last_transaction_status, link.payment_channel, link.original_request_id) == (
        CheckoutSession.Status.PAID,
        "SUCCESS",
        "VIRTUAL_ACCOUNT_BCA",
        "DOKU-REQ-1",
    )
    assert (paid.outcome, paid.order_id, paid.checkout_session_id) == (
        Notification.Outcome.PROCESSED,
        order.pk,
        link.pk,
    )
    assert order.events.last().notification_id == paid.pk
    # The receivers ran after the commit, each once, with the event's delivery recorded.
    assert [name for name, invoice, *_ in signal_log if invoice == order.invoice_number] == [
        "order_status_changed",
        "payment_succeeded",
    ]
    paid_deliveries = Delivery.objects.filter(order=order, event__new_status=OrderStatus.PAID)
    assert sorted(paid_deliveries.values_list("signal", "status")) == [
        ("order_status_changed", Delivery.Status.DELIVERED),
        ("payment_succeeded", Delivery.Status.DELIVERED),
    ]


def test_a_duplicate_notification_still_changes_nothing(order_factory, doku_simulator):
    order = order_factory()
    link = services.create_payment_link(order)
    notify(link, amount=order.amount)
    duplicate = notify(link, amount=order.amount)
    assert duplicate.outcome == Notification.Outcome.DUPLICATE
    assert order.events.filter(new_status=OrderStatus.PAID).count() == 1


# --- a claim: the order locked, then its links and line items read as the lock left them ----------


@pytest.mark.postgres
def test_a_claim_made_while_the_lock_was_awaited_is_found_and_shared(transactional_db, order_factory, doku_simulator):
    order = order_factory()
    claimed: list[link_claims.LinkClaim] = []

    def claim_then_send(held: Order):
        # The other request's claim: inserted while this test's request waits for the lock.
        claimed.append(claim_link(held))
        return lambda: link_claims.complete(claimed[0], client=None, actor=None)

    other, _locked = hold_the_order(order, claim_then_send)
    link = services.create_payment_link(order)
    other.join()

    # The claim was not in the waiting statement's snapshot: its invoice number was taken
    # again, refused by the unique column, and the request then waited for that claim.
    assert link.pk == claimed[0].link.pk
    assert CheckoutSession.objects.filter(order=order).count() == 1
    # DOKU was asked once for this order (its links' invoice numbers start with the order's; a
    # session another test's thread left in the store is not this order's).
    asked = [s for s in STORE.sessions.values() if s.invoice_number.startswith(order.invoice_number)]
    assert len(asked) == 1, [s.invoice_number for s in STORE.sessions.values()]


@pytest.mark.postgres
def test_line_items_changed_while_the_lock_was_awaited_are_the_ones_sent(
    transactional_db, order_factory, doku_simulator
):
    order = order_factory(items=[("Kopi", 10_000, 1)])

    def staff_add_an_item(held: Order):
        LineItem.objects.create(order=held, name="Gula aren", price=5_000, quantity=2)
        held.amount = 20_000
        held.save(update_fields=["amount", "updated_at"])

    other, _locked = hold_the_order(order, staff_add_an_item)
    link = services.create_payment_link(order)
    other.join()

    sent = link.request_body["order"]
    assert sent["amount"] == 20_000
    assert [item["name"] for item in sent["line_items"]] == ["Kopi", "Gula aren"]


@pytest.mark.postgres
def test_a_link_withdrawn_while_the_lock_was_awaited_is_never_handed_out(
    transactional_db, order_factory, doku_simulator
):
    order = order_factory(items=[("Kopi", 10_000, 1)])
    old_link = services.create_payment_link(order)

    def staff_change_the_amount(held: Order):
        LineItem.objects.filter(order=held).update(quantity=3)
        held.amount = 30_000
        held.save(update_fields=["amount", "updated_at"])
        writes = Writes()
        withdraw_payment_links(held, writes)
        writes.flush()

    other, _locked = hold_the_order(order, staff_change_the_amount)
    link = services.create_payment_link(order)
    other.join()

    # The old link was live when the statement began: only the link's own lock shows it withdrawn.
    assert link.pk != old_link.pk
    assert link.request_body["order"]["amount"] == 30_000
    old_link.refresh_from_db()
    assert old_link.status == CheckoutSession.Status.CANCELLED


def test_without_use_tz_a_second_click_gets_the_same_link(settings, order_factory, doku_api):
    settings.USE_TZ = False  # a shop on naive local times: the links read back must be naive too
    doku_api.post(SANDBOX + "/checkout/v1/payment", json=checkout_success())
    order = order_factory()
    first = services.create_payment_link(order)
    again = services.create_payment_link(order)
    assert again.pk == first.pk
    assert timezone.is_naive(again.expires_at)


@pytest.mark.postgres
def test_the_pending_event_follows_a_change_committed_while_its_record_waited(
    transactional_db, order_factory, doku_simulator
):
    order = order_factory()
    others: list[threading.Thread] = []

    def expire(held: Order) -> None:  # once the record below is already waiting for the lock
        states.transition(held, OrderStatus.EXPIRED, source=OrderEvent.Source.SYSTEM)

    def hold_the_order_while_doku_is_asked() -> None:
        others.append(hold_the_order(order, late_change=expire)[0])

    with while_doku_is_asked(hold_the_order_while_doku_is_asked):
        services.create_payment_link(order)  # its record waits for the lock, then records
    others[0].join()

    events = list(order.events.order_by("created_at", "id").values_list("old_status", "new_status", "created_at"))
    assert [(old, new) for old, new, _at in events] == [
        (OrderStatus.CREATED, OrderStatus.EXPIRED),
        (OrderStatus.EXPIRED, OrderStatus.PENDING),
    ]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.updated_at >= events[-1][2]


@pytest.mark.postgres
def test_a_click_that_waited_behind_a_failed_attempt_shares_the_claim_made_meanwhile(
    transactional_db, order_factory, doku_simulator
):
    # A failed attempt is recorded while two clicks wait for the lock: a shopper's, first in
    # the lock's queue, and a staff member's. The shopper's click claims the next attempt; the
    # staff click must share that claim, never send a second one while it is in flight.
    order = order_factory()
    other_claim: list = []

    def record_a_failed_attempt(held: Order) -> None:
        CheckoutSession.objects.create(
            order=held,
            status=CheckoutSession.Status.ERROR,
            invoice_number=held.invoice_number,
            request_id="failed-attempt",
            error_message="DOKU said no",
        )

    def another_click() -> None:
        try:
            with transaction.atomic():
                step = claim_link(Order.objects.get(pk=order.pk))
            if isinstance(step, link_claims.LinkClaim):
                other_claim.append(step.link.pk)
                link_claims.complete(step, client=None, actor=None)
        finally:
            connections.close_all()

    first, _locked = hold_the_order(order, record_a_failed_attempt, waiters=2)
    second = Holder(target=another_click)
    second.start()
    wait_until_waiting_on_a_lock(what="the other click, for the order's lock")
    link = services.create_payment_link(order, actor=None)
    first.join()
    second.join()

    live = CheckoutSession.objects.filter(order=order).exclude(status=CheckoutSession.Status.ERROR)
    assert list(live.values_list("pk", flat=True)) == [link.pk]
    assert len(STORE.sessions) == 1  # DOKU was asked for one link
    assert other_claim == [link.pk]  # the other click's claim, shared by the staff click


class SlowToCancel:
    """DOKU still cancelling a Checkout link when a notification arrives: it answers once the
    notification waits for the order's lock (``asked`` is set when DOKU is first asked)."""

    def __init__(self) -> None:
        self.asked = threading.Event()

    def cancel_checkout(self, body: dict, *, request_id: str | None = None) -> None:
        self.asked.set()
        wait_until_waiting_on_a_lock(what="the notification, for the order's lock")


@pytest.mark.postgres
def test_a_notification_during_a_shops_own_cancelling_transaction_does_not_deadlock(
    transactional_db, settings, order_factory, doku_simulator
):
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "CANCEL_AT_DOKU": True}
    order = order_factory()
    services.create_payment_link(order)
    card_page = CheckoutSession.objects.create(
        order=order,
        kind=CheckoutSession.Kind.CARD_PAGE,
        invoice_number=f"{order.invoice_number}C",
        request_id="card-page",
        payment_url="https://sandbox.doku.com/cc/1",
    )
    cancelled: list[str] = []
    doku = SlowToCancel()

    def shop_cancels_in_its_own_transaction() -> None:
        try:
            with transaction.atomic():  # ATOMIC_REQUESTS, or the shop's own block
                services.cancel_order(Order.objects.get(pk=order.pk), client=doku)
            cancelled.append("ok")
        except Exception as err:  # noqa: BLE001 - the test reports it
            cancelled.append(repr(err))
        finally:
            connections.close_all()

    shop = threading.Thread(target=shop_cancels_in_its_own_transaction)
    shop.start()
    assert doku.asked.wait(WAIT_SECONDS)  # the card page's answer is recorded; DOKU is being asked about the other link
    paid = notify(card_page, amount=order.amount)  # locks the order, then the link
    shop.join()

    assert cancelled == ["ok"]
    assert paid.outcome == Notification.Outcome.FLAGGED  # paid on a cancelled order: kept, for staff


# --- a shop's router sends reads to a replica: the locked sections read where they lock ------------


class ReadsGoToAReplica:
    """The usual primary/replica router; the "replica" here is the startproject database, which
    has none of the default database's rows: a replica that has not caught up at all."""

    def db_for_read(self, model, **hints):
        return "startproject"

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        return True


@pytest.mark.django_db(databases=["default", "startproject"], transaction=True)
def test_a_shops_read_replica_never_decides_a_locked_section(order_factory, doku_simulator, settings):
    """A claim read on a lagging replica missed the live link (a second link) and the record
    could not find its own claim (DoesNotExist: a 500 and a claim left creating)."""
    order = order_factory()
    settings.DATABASE_ROUTERS = [ReadsGoToAReplica()]

    first = services.create_payment_link(order)
    second = services.create_payment_link(order)  # the shopper clicks again

    assert first.pk == second.pk
    assert CheckoutSession.objects.using("default").filter(order_id=order.pk).count() == 1


# --- the generated statement does what Model.save would, edge by edge ------------------------------
# Each held only for the saves: the statement lost a change, asked the router without the
# instance, said nothing for a row gone, or wrote NULL for a key set in the same unit.


@pytest.mark.django_db(transaction=True)
def test_one_row_changed_through_two_copies_keeps_both_changes(order_factory):
    order = order_factory()
    first, second = Order.objects.get(pk=order.pk), Order.objects.get(pk=order.pk)
    first.customer_name = "Changed through the first copy"
    second.customer_email = "second@example.com"
    writes = Writes()
    writes.save(first, ["customer_name"])
    writes.save(second, ["customer_email"])
    writes.flush()

    order.refresh_from_db()
    assert (order.customer_name, order.customer_email) == ("Changed through the first copy", "second@example.com")


class RecordsWhatItIsAsked:
    """A router that decides nothing and remembers each instance it was asked about."""

    asked: list[Any] = []

    def db_for_write(self, model, **hints):
        self.asked.append(hints.get("instance"))


@pytest.mark.django_db(transaction=True)
def test_a_shops_router_is_asked_about_each_row_as_save_asks_it(order_factory, settings):
    order = order_factory()
    event = OrderEvent(order=order, old_status="created", new_status="created", source="system", note="x")
    order.customer_name = "Routed"
    RecordsWhatItIsAsked.asked = []
    settings.DATABASE_ROUTERS = [RecordsWhatItIsAsked()]
    writes = Writes()
    writes.save(order, ["customer_name"])
    writes.insert(event)
    writes.flush()

    assert order in RecordsWhatItIsAsked.asked
    assert event in RecordsWhatItIsAsked.asked


@pytest.mark.django_db(transaction=True)
def test_changing_a_row_that_is_gone_is_an_error(order_factory):
    """As ``save(update_fields=...)`` says it; the caller's transaction then writes nothing."""
    from django.db import DatabaseError

    order = order_factory()
    ghost = Order.objects.get(pk=order.pk)
    Order.objects.filter(pk=order.pk).delete()
    ghost.customer_name = "Never written"
    writes = Writes()
    writes.save(ghost, ["customer_name"])
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        writes.flush()


@pytest.mark.django_db(transaction=True)
def test_a_key_to_a_row_inserted_earlier_in_the_same_unit_is_written(order_factory):
    order = order_factory()
    link = CheckoutSession(order=order, invoice_number="UOW-KEY-1", status=CheckoutSession.Status.CREATING)
    writes = Writes()
    writes.insert(link)
    order.paid_link = link
    writes.save(order, ["paid_link"])
    writes.flush()

    order.refresh_from_db()
    assert link.pk is not None
    assert order.paid_link_id == link.pk
