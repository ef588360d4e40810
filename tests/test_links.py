"""Payment links are claimed, sent and recorded in short transactions: no lock is held while DOKU is asked."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.models import CheckoutSession, Order, OrderStatus
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services import links
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.settlement import PaymentResult, apply_payment_result
from django_doku_checkout.simulator.store import STORE
from tests.claiming import assert_withdrawn
from tests.doku import SANDBOX, checkout_success
from tests.link_workers import killed_while_doku_is_asked, sent_body, while_doku_is_asked
from tests.waiting import wait_until_waiting_on_a_lock


@pytest.fixture
def doku_asked_in(doku_api) -> list[bool]:
    """Answers DOKU's calls and records, for each, whether a database transaction was open."""
    seen: list[bool] = []

    def answer(body: dict) -> Callable:
        def callback(request):
            seen.append(transaction.get_connection().in_atomic_block)
            return 200, {}, json.dumps(body)

        return callback

    link = {**checkout_success(), "credit_card_payment_page": {"url": "https://sandbox.doku.com/cc/1"}}
    doku_api.add_callback("POST", SANDBOX + "/checkout/v1/payment", callback=answer(checkout_success()))
    doku_api.add_callback("POST", SANDBOX + "/credit-card/v1/payment-page", callback=answer(link))
    status = {"order": {"invoice_number": "INV-00000", "amount": 1}, "transaction": {"status": "PENDING"}}

    def status_callback(request):
        seen.append(transaction.get_connection().in_atomic_block)
        invoice = request.path_url.rsplit("/", 1)[-1]
        return 200, {}, json.dumps({**status, "order": {"invoice_number": invoice, "amount": 1}})

    doku_api.add_callback("GET", re.compile(SANDBOX + "/orders/v1/status/.+"), callback=status_callback)

    def refund_callback(request):
        seen.append(transaction.get_connection().in_atomic_block)
        amount = json.loads(request.body)["refund"]["amount"]
        return 200, {}, json.dumps({"refund": {"amount": amount, "type": "PARTIAL_REFUND", "status": "SUCCESS"}})

    doku_api.add_callback("POST", SANDBOX + "/cancellation/credit-card/refund", callback=refund_callback)

    def cancellation_callback(request):
        seen.append(transaction.get_connection().in_atomic_block)
        return 200, {}, json.dumps({"order": {"status": "CANCELLED"}})

    doku_api.add_callback("POST", SANDBOX + "/checkout/v3/cancellations", callback=cancellation_callback)
    return seen


def complete_order(order_factory) -> Order:
    return order_factory(customer_id="C-1", customer_address="Jl. Sudirman 1", customer_country="ID")


def test_no_transaction_is_open_while_doku_is_asked(transactional_db, order_factory, doku_asked_in, admin_client):
    linked, card, checked, staff = (complete_order(order_factory) for _ in range(4))
    services.create_payment_link(linked)
    services.create_card_payment_page(card)
    services.create_payment_link(checked)
    services.check_status(checked)
    Order.objects.filter(pk=checked.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    reconcile(min_age=timedelta(minutes=5))
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    admin_client.post(changelist, {"action": "create_payment_links", "_selected_action": [staff.pk]})
    for operation in ("card-page", "check-status"):
        admin_client.post(reverse("admin:django_doku_checkout_order_operation", args=[staff.pk, operation]))

    assert len(doku_asked_in) == 8  # 3 links, 2 card pages, 3 status checks (one from reconciliation)
    assert not any(doku_asked_in)


def test_no_transaction_is_open_while_doku_is_asked_for_refunds(
    transactional_db, order_factory, doku_asked_in, admin_client
):
    order = complete_order(order_factory)
    link = services.create_payment_link(order)
    paid = PaymentResult(link.invoice_number, "SUCCESS", order.amount, channel="CREDIT_CARD")
    apply_payment_result(link, paid, source="notification")
    doku_asked_in.clear()

    services.refund_payment(order, 1000)
    refund_form = reverse("admin:django_doku_checkout_order_refund", args=[order.pk])
    admin_client.post(refund_form, {"amount": 1000, "key": "form-1", "again": "on"})  # after the refund above
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    selected = {"action": "refund_payments", "_selected_action": [order.pk]}
    confirmation = {f"key-{order.pk}": "confirmation-1", f"amount-{order.pk}": order.amount - 2000, "post": "yes"}
    admin_client.post(changelist, {**selected, **confirmation})

    assert doku_asked_in == [False, False, False]
    assert services.refunded_total(order) == order.amount


def test_no_transaction_is_open_while_doku_is_asked_to_cancel_links(
    transactional_db, order_factory, doku_asked_in, doku_settings, admin_client
):
    from tests.pages import change_form_data
    from tests.test_admin import change_url

    doku_settings(CANCEL_AT_DOKU=True)
    cancelled, changed, in_bulk = (complete_order(order_factory) for _ in range(3))
    for order in (cancelled, changed, in_bulk):
        services.create_payment_link(order)
    doku_asked_in.clear()

    services.cancel_order(cancelled)
    admin_client.post(change_url(changed), change_form_data(changed, amount=390_000, **{"line_items-0-quantity": 2}))
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    admin_client.post(changelist, {"action": "cancel_orders", "_selected_action": [in_bulk.pk]})

    assert doku_asked_in == [False, False, False]
    assert CheckoutSession.objects.filter(cancelled_at_doku__isnull=False).count() == 3


def test_a_claim_left_by_a_process_that_died_after_doku_answered_is_replayed(order_factory, doku_simulator):
    order = order_factory()
    # A process claimed the link, DOKU created it, and the process died before recording it.
    claim = killed_while_doku_is_asked(order)
    first = DokuClient().create_checkout_payment(sent_body(claim), request_id=claim.request_id)
    CheckoutSession.objects.filter(pk=claim.pk).update(updated_at=timezone.now() - timedelta(minutes=1))

    session = services.create_payment_link(order)

    # The same Request-Id went again: DOKU answered 409 with the link it had created.
    assert session.pk == claim.pk
    assert session.status == CheckoutSession.Status.OPEN
    assert session.payment_url == first.data["response"]["payment"]["url"]
    assert order.checkout_sessions.count() == 1
    assert order.status == OrderStatus.PENDING
    assert len(STORE.sessions) == 1


@pytest.mark.postgres
def test_a_fresh_claim_is_waited_for_and_its_link_shared(live_doku, order_factory):
    order = order_factory()
    claimed = threading.Event()
    made: list[CheckoutSession] = []

    def doku_is_slow() -> None:
        # The holder's claim is committed: the click below finds it in flight. DOKU is slow for
        # it; meanwhile the shopper clicks again. Sequencing, not the protocol: the order is held
        # until the click waits for it, so the click's first look (first in the lock's queue)
        # comes before the holder records DOKU's answer, and the click waits for the claim.
        with transaction.atomic():
            locked_rows(Order.objects).get(pk=order.pk)
            claimed.set()
            wait_until_waiting_on_a_lock(what="the shopper's click, for the order's lock")

    def the_process_holding_the_claim() -> None:
        try:
            made.append(services.create_payment_link(order))
        finally:
            connections.close_all()

    with while_doku_is_asked(doku_is_slow):
        holder = threading.Thread(target=the_process_holding_the_claim)
        holder.start()
        assert claimed.wait(10)
        started = time.monotonic()
        session = services.create_payment_link(order)
        waited = time.monotonic() - started
        holder.join()

    assert [session.pk] == [link.pk for link in made]
    assert waited < links.CLAIM_WAIT
    assert order.checkout_sessions.count() == 1
    assert len(STORE.sessions) == 1


def test_reconciliation_settles_a_claim_whose_process_died_before_asking(order_factory, doku_simulator):
    order = order_factory()
    claim = killed_while_doku_is_asked(order)
    assert STORE.find("SIMULATOR-CLIENT", claim.invoice_number) is None  # DOKU never heard of it
    CheckoutSession.objects.filter(pk=claim.pk).update(updated_at=timezone.now() - timedelta(minutes=1))

    summary = reconcile()

    assert summary.claims_settled == 1
    claim.refresh_from_db()
    assert claim.status == CheckoutSession.Status.OPEN
    assert claim.payment_url.startswith("http://testserver/doku-simulator/pay/")
    assert STORE.find("SIMULATOR-CLIENT", claim.invoice_number) is not None
    assert reconcile().claims_settled == 0


def test_cancelling_while_doku_is_asked_withdraws_the_new_link(order_factory, doku_simulator):
    order = order_factory()

    # Staff cancel while the shopper's link is being created.
    with while_doku_is_asked(lambda: services.cancel_order(order)), pytest.raises(services.OrderNotPayable):
        services.create_payment_link(order)

    assert_withdrawn(order)


def test_views_ask_doku_outside_atomic_requests(
    transactional_db, order_factory, doku_asked_in, client, admin_client, monkeypatch
):
    # A shop with ATOMIC_REQUESTS wraps every view in a transaction, unless the view opts out.
    monkeypatch.setitem(transaction.get_connection().settings_dict, "ATOMIC_REQUESTS", True)
    order, staff = order_factory(), complete_order(order_factory)
    assert client.post(reverse("doku_checkout:pay", args=[order.public_id])).status_code == 302
    assert client.get(reverse("doku_checkout:return", args=[order.public_id])).status_code == 200
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    admin_client.post(changelist, {"action": "create_payment_links", "_selected_action": [staff.pk]})
    admin_client.post(reverse("admin:django_doku_checkout_order_operation", args=[staff.pk, "card-page"]))

    assert doku_asked_in == [False, False, False, False]
