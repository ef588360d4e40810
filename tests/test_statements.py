"""On PostgreSQL the commonest changes are one statement each: the same rows, locks and outcomes as the ORM."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction
from django.db.models.signals import pre_save
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signatures
from django_doku_checkout.models import (
    CheckoutSession,
    Delivery,
    LineItem,
    Notification,
    Order,
    OrderEvent,
    OrderStatus,
)
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.services import links, statements, states
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.orders import withdraw_payment_links
from django_doku_checkout.services.statements import Writes
from django_doku_checkout.signals import order_status_changed
from django_doku_checkout.simulator.store import STORE
from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY
from tests.conftest import SANDBOX, assert_withdrawn, checkout_success, claim_link

ONE_STATEMENT = connection.vendor == "postgresql"
#: A claim (five queries on PostgreSQL, six elsewhere), then the record (one statement on
#: PostgreSQL, six round trips elsewhere).
QUERIES_PER_LINK = 6 if ONE_STATEMENT else 12


def link_columns(link: CheckoutSession) -> dict:
    link.refresh_from_db()
    return {
        "status": link.status,
        "kind": link.kind,
        "payment_url_host": link.payment_url.split("/pay/")[0],
        "token_id": bool(link.token_id),
        "expires_at": link.expires_at is not None,
        "response_body": sorted(link.response_body),
        "error_message": link.error_message,
        "request_payload": link.request_payload,
        "updated_after_claim": link.updated_at > link.created_at,
    }


def event_columns(order: Order) -> list[dict]:
    return list(
        order.events.values("old_status", "new_status", "source", "actor_id", "notification_id", "note").order_by("id")
    )


def make_link(order: Order, actor) -> CheckoutSession:
    link = services.create_payment_link(order, actor=actor)
    assert order.status == OrderStatus.PENDING  # the caller's copy learns, either way
    return link


def without_note(events: list[dict]) -> list[dict]:
    return [{name: value for name, value in event.items() if name != "note"} for event in events]


@pytest.mark.parametrize("by_staff", [False, True])
def test_recording_a_link_writes_what_the_long_way_writes(
    order_factory, doku_simulator, django_assert_num_queries, admin_user, by_staff
):
    actor = admin_user if by_staff else None
    short, long = order_factory(), order_factory()
    with django_assert_num_queries(QUERIES_PER_LINK):
        short_link = make_link(short, actor)
    saved: list[str] = []

    def shops_receiver(sender, **kwargs):
        saved.append(sender.__name__)

    # A shop's own pre_save receiver must see every save: the ORM's long way is taken.
    pre_save.connect(shops_receiver, sender=OrderEvent, dispatch_uid="shop")
    try:
        long_link = make_link(long, actor)
    finally:
        pre_save.disconnect(sender=OrderEvent, dispatch_uid="shop")

    assert saved == ["OrderEvent"]
    assert link_columns(short_link) == link_columns(long_link)
    assert short_link.status == CheckoutSession.Status.OPEN
    assert without_note(event_columns(short)) == without_note(event_columns(long))
    assert event_columns(short)[0]["note"] == f"DOKU Checkout {short_link.invoice_number} created."
    assert event_columns(short)[0]["old_status"] == OrderStatus.CREATED
    assert event_columns(short)[0]["source"] == ("admin" if by_staff else "shopper")
    assert event_columns(short)[0]["actor_id"] == (admin_user.pk if by_staff else None)
    for order in (short, long):
        updated_at = order.updated_at
        order.refresh_from_db()
        assert order.status == OrderStatus.PENDING
        assert order.updated_at == updated_at
    # A second link for a pending order saves the link and leaves the order and its history alone.
    short_link.status = CheckoutSession.Status.EXPIRED
    short_link.save(update_fields=["status"])
    again = services.create_payment_link(short)
    assert again.pk != short_link.pk
    assert again.status == CheckoutSession.Status.OPEN
    assert short.events.count() == 1


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


def hold_the_order(
    order: Order, change=None, *, seconds: float = 0.6, late_change=None
) -> tuple[threading.Thread, threading.Event]:
    """Another transaction that locks ``order``, runs ``change`` with it and commits ``seconds`` later.

    ``late_change`` runs at the end of the wait, just before the commit. What ``change``
    returns, if anything, runs after the commit.
    """
    locked = threading.Event()

    def run() -> None:
        try:
            with transaction.atomic():
                held = locked_rows(Order.objects).get(pk=order.pk)
                after = change(held) if change else None
                locked.set()
                time.sleep(seconds)
                if late_change:
                    late_change(held)
            if after is not None:
                after()
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    assert locked.wait(5)
    return thread, locked


@pytest.fixture
def claimed(transactional_db, order_factory, doku_simulator) -> tuple[Order, links._Claim]:
    """An order and its link's committed claim, DOKU not asked yet, in autocommit as production runs."""
    order = order_factory()
    with transaction.atomic():
        claim = claim_link(order)
    return order, claim


@pytest.mark.postgres
def test_the_one_statement_record_waits_for_a_cancellation_and_withdraws_the_link(claimed):
    order, claim = claimed
    release = 0.6

    def staff_cancel(held: Order) -> None:
        states.transition(held, OrderStatus.CANCELLED, source=OrderEvent.Source.ADMIN)
        withdraw_payment_links(held)

    staff, _locked = hold_the_order(order, staff_cancel, seconds=release)
    started = time.monotonic()
    recorded = links._complete(claim, client=None, actor=None)
    waited = time.monotonic() - started
    staff.join()

    assert waited > release / 2  # the record waited for the order's lock
    assert_withdrawn(recorded, claim, order)
    assert list(order.events.values_list("new_status", flat=True)) == [OrderStatus.CANCELLED]


# --- notifications: the order's change, its link and the outcome written together -------------------


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


def paid_rows(order: Order, link: CheckoutSession, notification: Notification) -> dict:
    order.refresh_from_db()
    link.refresh_from_db()
    notification.refresh_from_db()
    return {
        "order": (
            order.status,
            order.paid_at is not None,
            order.paid_link_id == link.pk,
            order.updated_at > order.created_at,
        ),
        "link": (link.status, link.last_transaction_status, link.payment_channel, link.original_request_id),
        "notification": (
            notification.outcome,
            notification.detail,
            notification.processed_at is not None,
            notification.order_id == order.pk,
            notification.checkout_session_id == link.pk,
            notification.invoice_number == link.invoice_number,
            notification.transaction_status,
        ),
        "events": without_note(event_columns(order))[1:],
        "event_refers_to_notification": order.events.last().notification_id == notification.pk,
    }


def test_a_paying_notification_writes_what_the_long_way_writes(
    order_factory, doku_simulator, django_capture_on_commit_callbacks, signal_log
):
    short, long = order_factory(), order_factory()
    short_link, long_link = services.create_payment_link(short), services.create_payment_link(long)
    with django_capture_on_commit_callbacks(execute=True):
        short_paid = notify(short_link, amount=short.amount)
    saved: list[str] = []

    def shops_receiver(sender, **kwargs):
        saved.append(sender.__name__)

    pre_save.connect(shops_receiver, sender=Notification, dispatch_uid="shop")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            long_paid = notify(long_link, amount=long.amount)
    finally:
        pre_save.disconnect(sender=Notification, dispatch_uid="shop")

    assert "Notification" in saved
    short_rows, long_rows = paid_rows(short, short_link, short_paid), paid_rows(long, long_link, long_paid)
    assert {**short_rows, "events": [{**e, "notification_id": None} for e in short_rows["events"]]} == {
        **long_rows,
        "events": [{**e, "notification_id": None} for e in long_rows["events"]],
    }
    assert short_rows["order"] == (OrderStatus.PAID, True, True, True)
    assert short_rows["notification"][0] == Notification.Outcome.PROCESSED
    assert short_rows["event_refers_to_notification"]
    # The receivers ran after the commit, each once, with the event's delivery recorded.
    assert [name for name, invoice, *_ in signal_log if invoice == short.invoice_number] == [
        "order_status_changed",
        "payment_succeeded",
    ]
    paid_deliveries = Delivery.objects.filter(order=short, event__new_status=OrderStatus.PAID)
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


# --- a claim on PostgreSQL: the order locked and its links and line items read in one statement ----


@pytest.mark.postgres
def test_a_claim_made_while_the_lock_was_awaited_is_found_and_shared(transactional_db, order_factory, doku_simulator):
    order = order_factory()
    claimed: list[links._Claim] = []

    def claim_then_send(held: Order):
        # The other request's claim: inserted while this test's request waits for the lock.
        claimed.append(claim_link(held))
        return lambda: links._complete(claimed[0], client=None, actor=None)

    other, _locked = hold_the_order(order, claim_then_send)
    link = services.create_payment_link(order)
    other.join()

    # The claim was not in the waiting statement's snapshot: its invoice number was taken
    # again, refused by the unique column, and the request then waited for that claim.
    assert link.pk == claimed[0].session.pk
    assert CheckoutSession.objects.filter(order=order).count() == 1
    assert len(STORE.sessions) == 1  # DOKU was asked once


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
        withdraw_payment_links(held)

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
def test_the_pending_event_follows_a_change_committed_while_its_record_waited(claimed):
    order, claim = claimed

    def expire(held: Order) -> None:  # once the record below is already waiting for the lock
        states.transition(held, OrderStatus.EXPIRED, source=OrderEvent.Source.SYSTEM)

    other, _locked = hold_the_order(order, seconds=0.4, late_change=expire)
    links._complete(claim, client=None, actor=None)  # waits for the lock, then records
    other.join()

    events = list(order.events.order_by("created_at", "id").values_list("old_status", "new_status", "created_at"))
    assert [(old, new) for old, new, _at in events] == [
        (OrderStatus.CREATED, OrderStatus.EXPIRED),
        (OrderStatus.EXPIRED, OrderStatus.PENDING),
    ]
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.updated_at >= events[-1][2]


@pytest.mark.postgres
def test_a_click_that_collided_once_still_waits_for_a_claim_made_meanwhile(
    transactional_db, order_factory, doku_simulator
):
    # A failed attempt is recorded while a staff member's click waits for the lock; while its
    # retry waits again, another click claims the next attempt. The staff click must share
    # that claim, never send a second one while it is in flight.
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
            time.sleep(0.1)
            with transaction.atomic():
                step = claim_link(Order.objects.get(pk=order.pk))
                time.sleep(0.4)
            if isinstance(step, links._Claim):
                other_claim.append(step.session.pk)
                links._complete(step, client=None, actor=None)
        finally:
            connections.close_all()

    first, _locked = hold_the_order(order, record_a_failed_attempt, seconds=0.4)
    second = threading.Thread(target=another_click)
    second.start()
    link = services.create_payment_link(order, actor=None)
    first.join()
    second.join()

    live = CheckoutSession.objects.filter(order=order).exclude(status=CheckoutSession.Status.ERROR)
    assert list(live.values_list("pk", flat=True)) == [link.pk]
    assert len(STORE.sessions) == 1  # DOKU was asked for one link
    assert other_claim in ([], [link.pk])


class SlowToCancel:
    """DOKU taking a second to cancel a Checkout link."""

    def cancel_checkout(self, body: dict, *, request_id: str | None = None) -> None:
        time.sleep(1.0)


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

    def shop_cancels_in_its_own_transaction() -> None:
        try:
            with transaction.atomic():  # ATOMIC_REQUESTS, or the shop's own block
                services.cancel_order(Order.objects.get(pk=order.pk), client=SlowToCancel())
            cancelled.append("ok")
        except Exception as err:  # noqa: BLE001 - the test reports it
            cancelled.append(repr(err))
        finally:
            connections.close_all()

    shop = threading.Thread(target=shop_cancels_in_its_own_transaction)
    shop.start()
    time.sleep(0.4)  # the card page's answer is recorded; DOKU is being asked about the other link
    paid = notify(card_page, amount=order.amount)  # locks the order, then the link
    shop.join()

    assert cancelled == ["ok"]
    assert paid.outcome == Notification.Outcome.FLAGGED  # paid on a cancelled order: kept, for staff


class OrdersElsewhere:
    """A shop's router that writes orders to another database."""

    def db_for_write(self, model, **hints):
        return "elsewhere" if model is Order else None


def test_the_statements_go_only_where_a_shops_router_sends_the_writes(settings, db):
    assert statements.readable(Order, CheckoutSession) is ONE_STATEMENT
    settings.DATABASE_ROUTERS = [OrdersElsewhere()]
    assert statements.readable(CheckoutSession) is ONE_STATEMENT
    assert not statements.readable(Order, CheckoutSession)
    assert not statements.available(Order)
