"""Refunds against the simulator over real HTTP: card refunds through DOKU, manual ones, and DOKU's own word."""

from __future__ import annotations

import json
import re
import threading

import pytest
from django.db import connections
from django.urls import reverse

from django_doku_checkout import services, signatures
from django_doku_checkout.exceptions import DokuAPIError, DokuTransportError
from django_doku_checkout.models import CheckoutSession, Delivery, Notification, Order, OrderStatus, Refund
from django_doku_checkout.simulator import actions, notifier
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.merchants import merchants
from django_doku_checkout.simulator.store import STORE, SimulatedRefund, SimulatedSession
from tests.doku import CLIENT_ID, SECRET, notification_sender

REFUND_TARGET = "/cancellation/credit-card/refund"


def paid_order(
    order_factory, method: str = "CREDIT_CARD", *, settled: bool = True, **fields
) -> tuple[Order, SimulatedSession]:
    """An order paid at the simulator, its notification delivered over HTTP; ``settled`` by DOKU
    (partial refunds possible) unless told otherwise (then DOKU only voids the whole amount)."""
    order = order_factory(items=[("Batik shirt", 100_000, 1)], **fields)
    link = services.create_payment_link(order)
    session = STORE.find(CLIENT_ID, link.invoice_number)
    assert session is not None
    actions.settle(session, "pay", method)
    assert STORE.wait_until_idle(10)
    if settled:
        actions.mark_settled(session)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    return order, session


def refund_at_doku(order: Order, amount: int | None = None, **options) -> Refund:
    """``services.refund_payment``, then wait until DOKU's notification of the refund (and its
    retries) is delivered: the in-memory SQLite connection the live server shares with the
    test must not be used by two threads at once."""
    try:
        return services.refund_payment(order, amount, **options)
    finally:
        assert STORE.wait_until_idle(10)


def resend_at_doku(refund: Refund) -> Refund:
    """``services.resend_refund``, then wait for DOKU's notifications like :func:`refund_at_doku`."""
    try:
        return services.resend_refund(refund)
    finally:
        assert STORE.wait_until_idle(10)


def refund_requests() -> list:
    """The card refund requests the simulator accepted, each checked against our secret."""
    received = [r for r in STORE.received if r.target == REFUND_TARGET]
    for request in received:
        assert signatures.verify(
            request.headers["Signature"],
            secret_keys=[SECRET],
            client_id=request.headers["Client-Id"],
            request_id=request.headers["Request-Id"],
            timestamp=request.headers["Request-Timestamp"],
            target=REFUND_TARGET,
            body=request.body,
        )
    return received


def refunded_signals(signal_log) -> list:
    return [entry for entry in signal_log if entry[0] == "payment_refunded"]


def status_changes(signal_log) -> list[str]:
    return [entry[2] for entry in signal_log if entry[0] == "order_status_changed"]


def test_a_full_card_refund(live_doku, order_factory, signal_log, admin_user):
    order, session = paid_order(order_factory)
    paying = order.checkout_sessions.get()
    signal_log.clear()

    refund = refund_at_doku(order, reason="Out of stock", actor=admin_user)

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert (refund.status, refund.amount, refund.method) == (Refund.Status.SUCCEEDED, 100_000, Refund.Method.CARD_API)
    assert (refund.checkout_session, refund.actor, refund.reason) == (paying, admin_user, "Out of stock")
    assert refund.refund_type == "FULL_REFUND"
    assert refund.doku_reference == session.refunds[0].approval_code
    assert refund.request_payload == ""  # sent and answered: nothing left to resend
    assert refunded_signals(signal_log) == [("payment_refunded", order.invoice_number, 100_000)]
    assert status_changes(signal_log) == [OrderStatus.REFUNDED]
    # DOKU received one signed request naming the paying attempt and DOKU's id of its payment.
    (sent,) = refund_requests()
    assert sent.headers["Request-Id"] == refund.request_id
    assert json.loads(sent.body) == {
        "order": {"invoice_number": paying.invoice_number},
        "payment": {"original_request_id": paying.original_request_id},
        "refund": {"amount": 100_000},
    }
    assert paying.original_request_id == session.request_id  # stored from DOKU's notification
    assert [r.amount for r in session.refunds] == [100_000]


def test_the_simulator_dashboard_lists_refunds(live_doku, order_factory, admin_client):
    order, session = paid_order(order_factory)
    refund_at_doku(order, 12_345)
    page = admin_client.get(reverse("doku_simulator:dashboard")).content.decode()
    assert "<h2>Refunds</h2>" in page
    assert "Rp 12.345" in page
    assert session.refunds[0].approval_code in page


def test_two_partial_refunds_then_an_over_refund_is_refused(live_doku, order_factory, signal_log):
    order, session = paid_order(order_factory)
    signal_log.clear()

    first = refund_at_doku(order, 30_000)
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    second = refund_at_doku(order, 50_000)
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert services.refundable_amount(order) == 20_000

    with pytest.raises(services.RefundNotAllowed, match="from 1 to Rp 20.000"):
        refund_at_doku(order, 30_000)

    assert [first.refund_type, second.refund_type] == ["PARTIAL_REFUND", "PARTIAL_REFUND"]
    assert order.refunds.count() == 2  # the refused one left no row
    assert len(refund_requests()) == 2  # and DOKU was not asked
    assert [r.amount for r in session.refunds] == [30_000, 50_000]
    assert refunded_signals(signal_log) == [
        ("payment_refunded", order.invoice_number, 30_000),
        ("payment_refunded", order.invoice_number, 50_000),
    ]
    assert status_changes(signal_log) == [OrderStatus.PARTIALLY_REFUNDED]

    rest = refund_at_doku(order)  # what is left
    order.refresh_from_db()
    assert (rest.amount, order.status) == (20_000, OrderStatus.REFUNDED)
    assert services.refunded_total(order) == 100_000
    assert status_changes(signal_log) == [OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED]
    with pytest.raises(services.RefundNotAllowed, match="only a paid order can be refunded"):
        refund_at_doku(order, 1)


def test_an_unpaid_order_is_never_refunded(live_doku, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    with pytest.raises(services.RefundNotAllowed, match="only a paid order"):
        refund_at_doku(order)
    with pytest.raises(services.RefundNotAllowed, match="only a paid order"):
        services.record_manual_refund(order)
    assert not Refund.objects.exists()
    assert not refund_requests()


def test_doku_refusing_a_refund_marks_it_failed_and_frees_its_amount(live_doku, order_factory, signal_log):
    order, session = paid_order(order_factory)
    session.refunds.append(
        SimulatedRefund(amount=90_000, type="PARTIAL_REFUND", approval_code="BO", at=session.created_at)
    )
    signal_log.clear()

    with pytest.raises(DokuAPIError, match="refund.amount must be from 1 to 10000"):
        refund_at_doku(order, 50_000)

    refund = order.refunds.get()
    assert refund.status == Refund.Status.FAILED
    assert "INVALID_PARAMETER" in refund.error_message
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert services.refundable_amount(order) == 100_000
    assert refunded_signals(signal_log) == []


def test_a_refund_of_another_channel_is_recorded_by_hand(live_doku, order_factory, signal_log, admin_user):
    order, _session = paid_order(order_factory, method="VIRTUAL_ACCOUNT_BCA")
    signal_log.clear()

    with pytest.raises(
        services.RefundNotSupported, match="DOKU refunds it on a support request with the customer's bank account"
    ):
        refund_at_doku(order)
    assert not refund_requests()
    assert not Refund.objects.exists()

    refund = services.record_manual_refund(order, 40_000, reason="Damaged", actor=admin_user, reference="BO-REF-1")

    assert (refund.status, refund.method, refund.doku_reference) == (
        Refund.Status.SUCCEEDED,
        Refund.Method.MANUAL,
        "BO-REF-1",
    )
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert refunded_signals(signal_log) == [("payment_refunded", order.invoice_number, 40_000)]
    assert not refund_requests()  # nothing was sent to DOKU


def send_from_doku(session: SimulatedSession, status: str, refund: SimulatedRefund) -> None:
    notifier.send(session, merchants()[CLIENT_ID], status, refund=refund)
    assert STORE.wait_until_idle(10)


def test_doku_refunding_the_paying_attempt_is_recorded_once(live_doku, order_factory, signal_log):
    order, session = paid_order(order_factory, method="VIRTUAL_ACCOUNT_BCA")
    signal_log.clear()
    STORE.set_faults(CLIENT_ID, Faults(duplicate_notifications=True))

    actions.refund_in_back_office(session, 25_000)  # DOKU notifies REFUNDED, twice
    assert STORE.wait_until_idle(10)
    services.check_status(order)  # and its status answer names the same refund

    refund = order.refunds.get()
    assert (refund.method, refund.amount, refund.refund_type) == (Refund.Method.DOKU, 25_000, "PARTIAL_REFUND")
    assert refund.notification is not None
    assert refund.checkout_session == order.checkout_sessions.get()
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert not order.needs_review
    assert refunded_signals(signal_log) == [("payment_refunded", order.invoice_number, 25_000)]
    outcomes = list(Notification.objects.filter(transaction_status="REFUNDED").values_list("outcome", flat=True))
    assert sorted(outcomes) == ["duplicate", "processed"]


def test_doku_voiding_the_paying_attempt_before_settlement_refunds_all_of_it(live_doku, order_factory, signal_log):
    order, session = paid_order(order_factory, settled=False)
    signal_log.clear()

    actions.refund_in_back_office(session, void=True)
    assert STORE.wait_until_idle(10)

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    voided = order.refunds.get(method=Refund.Method.DOKU)
    assert (voided.amount, voided.refund_type, voided.doku_reference) == (
        100_000,
        "VOID",
        session.refunds[0].approval_code,
    )
    assert refunded_signals(signal_log) == [("payment_refunded", order.invoice_number, 100_000)]
    assert status_changes(signal_log) == [OrderStatus.REFUNDED]
    services.check_status(order)  # DOKU's status answer names the void again: recorded once
    assert order.refunds.count() == 1
    assert services.refunded_total(order) == session.refunded


def test_doku_voids_only_before_settlement_and_refunds_in_parts_only_after(live_doku, order_factory):
    order, session = paid_order(order_factory)  # settled
    refund_at_doku(order, 10_000)
    # DOKU rules out a void of a settled payment (the earlier partial-then-void).
    with pytest.raises(actions.RefundRefused, match="no longer voided"):
        actions.refund_in_back_office(session, void=True)
    rest = refund_at_doku(order)
    assert (rest.amount, rest.refund_type) == (90_000, "PARTIAL_REFUND")
    assert [r.type for r in session.refunds] == ["PARTIAL_REFUND", "PARTIAL_REFUND"]
    assert services.refunded_total(order) == session.refunded == 100_000


def test_doku_refunding_or_voiding_an_older_attempt_never_refunds_the_order(live_doku, order_factory, signal_log):
    order = order_factory(items=[("Batik shirt", 100_000, 1)])
    older_link = services.create_payment_link(order)
    CheckoutSession.objects.filter(pk=older_link.pk).update(expires_at=older_link.created_at)
    newer_link = services.create_payment_link(order)
    older, newer = (STORE.find(CLIENT_ID, link.invoice_number) for link in (older_link, newer_link))
    actions.settle(newer, "pay", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    signal_log.clear()

    # A void of the older attempt (an authorization released): recorded only.
    send_from_doku(older, "VOIDED", SimulatedRefund(amount=100_000, type="VOID", approval_code="", at=older.created_at))
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, False)
    # A refund of the older attempt: money moved, but not this order's payment.
    send_from_doku(
        older, "REFUNDED", SimulatedRefund(amount=100_000, type="FULL_REFUND", approval_code="X", at=older.created_at)
    )

    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, True)
    assert f"REFUNDED (FULL_REFUND) for {older_link.invoice_number}, which did not pay the order" in order.review_reason
    assert not order.refunds.exists()
    assert refunded_signals(signal_log) == []
    assert [n.outcome for n in Notification.objects.filter(transaction_status__in=("VOIDED", "REFUNDED"))] == [
        "flagged",
        "ignored",
    ]


def test_a_refund_doku_answered_too_late_is_resent_and_completed_once(live_doku, order_factory, signal_log):
    order, session = paid_order(order_factory)
    STORE.set_faults(CLIENT_ID, Faults(timeout_rate=1, timeout_seconds=2.5))  # DOKU refunds, answers too late
    with pytest.raises(DokuTransportError):
        refund_at_doku(order, 60_000)
    STORE.set_faults(CLIENT_ID, Faults())
    assert STORE.wait_until_idle(10)  # DOKU's own REFUNDED came meanwhile: it could not name the refund yet
    refund = order.refunds.get()
    assert refund.status == Refund.Status.REQUESTED  # DOKU may have refunded: the amount stays reserved
    with pytest.raises(services.RefundNotAllowed):
        refund_at_doku(order, 50_000)
    signal_log.clear()

    # Staff resend it: the same Request-Id and bytes, and DOKU answers 409 with its first answer.
    resent = resend_at_doku(refund)
    # Then DOKU's notification of that refund arrives again (resent from its back office).
    send_from_doku(session, "REFUNDED", session.refunds[0])

    assert resent.status == Refund.Status.SUCCEEDED
    assert resent.amount == 60_000
    assert resent.doku_reference == session.refunds[0].approval_code
    assert [r.amount for r in session.refunds] == [60_000]  # refunded once at DOKU
    assert {r.headers["Request-Id"] for r in refund_requests()} == {refund.request_id}
    assert order.refunds.count() == 1
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PARTIALLY_REFUNDED, False)
    assert refunded_signals(signal_log) == [("payment_refunded", order.invoice_number, 60_000)]
    outcomes = list(
        Notification.objects.filter(transaction_status="REFUNDED").order_by("pk").values_list("outcome", flat=True)
    )
    # While it was in flight DOKU was told to send it again (503); once named, it is a duplicate.
    assert set(outcomes[:-1]) == {"unconfirmed"}
    assert outcomes[-1] == "duplicate"


def test_receivers_get_the_refund_and_a_failed_one_is_retried_with_it(order_factory, doku_simulator):
    received: list[tuple[int, str, str]] = []
    failures = {"left": 1}

    def ship_back(sender, order, refund, source, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("warehouse down")
        received.append((refund.amount, refund.status, source))

    from django_doku_checkout.signals import payment_refunded

    payment_refunded.connect(ship_back, weak=False, dispatch_uid="ship_back")
    try:
        order = order_factory(items=[("Batik shirt", 100_000, 1)])
        doku_simulator.pay(order, "CREDIT_CARD")
        doku_simulator.settle(order)
        from django.test import TestCase

        with TestCase.captureOnCommitCallbacks(execute=True):
            refund_at_doku(order, 5_000)
        delivery = Delivery.objects.get(signal="payment_refunded")
        assert delivery.status == Delivery.Status.PENDING
        assert delivery.arguments["refund"] == order.refunds.get().pk  # stored as JSON, by key
        doku_simulator.deliver()
    finally:
        payment_refunded.disconnect(dispatch_uid="ship_back")
    assert received == [(5_000, Refund.Status.SUCCEEDED, "system")]


def test_the_plugin_refunds_in_dokus_back_office(order_factory, doku_simulator):
    order = order_factory(items=[("Batik shirt", 100_000, 1)])
    doku_simulator.pay(order)
    doku_simulator.settle(order)
    assert doku_simulator.refund(order, 30_000) == 200
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert doku_simulator.refund(order) == 200
    assert order.status == OrderStatus.REFUNDED
    assert [r.amount for r in order.refunds.all()] == [30_000, 70_000]


@pytest.mark.postgres
def test_concurrent_refunds_never_give_back_more_than_was_paid(live_doku, order_factory):
    order, session = paid_order(order_factory)
    STORE.set_faults(CLIENT_ID, Faults(latency=0.3))  # both requests are in flight together
    start = threading.Barrier(3)
    outcomes: list[str] = []

    def refund() -> None:
        start.wait()
        try:
            refund_at_doku(Order.objects.get(pk=order.pk), 60_000)
            outcomes.append("refunded")
        except services.RefundNotAllowed:
            outcomes.append("refused")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=refund) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["refunded", "refused", "refused"]
    assert [r.amount for r in session.refunds] == [60_000]
    assert services.refunded_total(order) == 60_000


# --- the admin ---------------------------------------------------------------------------------------


def refund_url(order: Order) -> str:
    return reverse("admin:django_doku_checkout_order_refund", args=[order.pk])


def form_key(page: str) -> str:
    """The Refund form's idempotency key, issued when the form was rendered."""
    found = re.search(r'name="key" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_staff_refund_part_of_a_card_payment_from_the_order_page(live_doku, order_factory, admin_client, signal_log):
    order, session = paid_order(order_factory)
    change = admin_client.get(reverse("admin:django_doku_checkout_order_change", args=[order.pk])).content.decode()
    assert 'id="doku-refund"' in change

    form = admin_client.get(refund_url(order)).content.decode()
    assert 'name="amount" value="100000"' in form  # prefilled with what is left
    assert "refunded by DOKU as soon as you confirm" in form
    assert 'name="reference"' not in form
    key = form_key(form)
    too_much = admin_client.post(refund_url(order), {"amount": 100_001, "reason": "x", "key": key})
    assert STORE.wait_until_idle(10)
    assert too_much.status_code == 200
    assert not order.refunds.exists()

    done = admin_client.post(refund_url(order), {"amount": 40_000, "reason": "One shirt returned", "key": key})
    assert STORE.wait_until_idle(10)

    page = admin_client.get(done["Location"]).content.decode()
    assert "Rp 40.000 refunded; the order is now Partially refunded." in page
    refund = order.refunds.get()
    assert (refund.amount, refund.reason, refund.actor.username) == (40_000, "One shirt returned", "admin")
    assert "One shirt returned" in page
    assert "Card refund at DOKU" in page
    assert 'name="amount" value="60000"' in admin_client.get(refund_url(order)).content.decode()
    assert [r.amount for r in session.refunds] == [40_000]
    assert refunded_signals(signal_log)[-1] == ("payment_refunded", order.invoice_number, 40_000)


def test_staff_record_a_back_office_refund_of_a_virtual_account(live_doku, order_factory, admin_client):
    order, _session = paid_order(order_factory, method="VIRTUAL_ACCOUNT_BCA")

    form = admin_client.get(refund_url(order)).content.decode()
    assert "DOKU has no refund API for VIRTUAL_ACCOUNT_BCA payments" in form
    assert "support request" in form
    data = {"amount": 100_000, "reason": "Cancelled trip", "reference": "BO-77", "key": form_key(form)}
    admin_client.post(refund_url(order), data)
    admin_client.post(refund_url(order), data)  # sent twice: recorded once
    assert STORE.wait_until_idle(10)

    refund = order.refunds.get()
    assert (refund.method, refund.doku_reference, refund.status) == (
        Refund.Method.MANUAL,
        "BO-77",
        Refund.Status.SUCCEEDED,
    )
    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    assert not refund_requests()
    change = admin_client.get(reverse("admin:django_doku_checkout_order_change", args=[order.pk])).content.decode()
    assert 'id="doku-refund"' not in change  # nothing left to refund


def test_the_refund_action_refunds_cards_in_full_and_skips_the_rest(live_doku, order_factory, admin_client):
    card, _ = paid_order(order_factory)
    transfer, _ = paid_order(order_factory, method="VIRTUAL_ACCOUNT_BCA")
    unpaid = order_factory()
    changelist = reverse("admin:django_doku_checkout_order_changelist")

    selected = {"action": "refund_payments", "_selected_action": [card.pk, transfer.pk, unpaid.pk]}
    asked = admin_client.post(changelist, selected).content.decode()
    assert "Are you sure?" in asked
    assert not Refund.objects.exists()
    confirmation = dict(re.findall(r'name="((?:key|amount)-\d+)" value="([^"]+)"', asked))

    page = admin_client.post(changelist, {**selected, **confirmation, "post": "yes"}).content.decode()
    assert STORE.wait_until_idle(10)

    assert "Rp 100.000 refunded by DOKU; the order is now Refunded." in page
    assert "Not on the confirmation page: nothing was sent to DOKU." in page  # the other two
    assert "DOKU refunds it on a support request with the customer&#x27;s bank account" in asked
    assert "Nothing to refund: the order is created" in asked
    assert [o.status for o in Order.objects.filter(pk__in=[card.pk, transfer.pk]).order_by("pk")] == [
        OrderStatus.REFUNDED,
        OrderStatus.PAID,
    ]


def test_refunds_need_the_refund_permission(live_doku, order_factory, client, django_user_model):
    from django.contrib.auth.models import Permission

    order, _ = paid_order(order_factory)
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_order", "change_order"]))
    client.force_login(clerk)
    changelist = reverse("admin:django_doku_checkout_order_changelist")

    assert (
        'id="doku-refund"'
        not in client.get(reverse("admin:django_doku_checkout_order_change", args=[order.pk])).content.decode()
    )
    assert client.post(refund_url(order), {"amount": 1000, "key": "k"}).status_code == 403
    assert "refund_payments" not in client.get(changelist).content.decode()

    clerk.user_permissions.add(Permission.objects.get(codename="refund_payment"))
    client.post(refund_url(order), {"amount": 1000, "key": form_key(client.get(refund_url(order)).content.decode())})
    assert STORE.wait_until_idle(10)
    assert order.refunds.get().amount == 1000


def test_a_late_failure_of_an_earlier_attempt_leaves_the_card_payment_refundable(live_doku, order_factory):
    """The shopper's OVO attempt failed, then the card paid; DOKU's FAILED of the OVO attempt comes
    last (a retried delivery). The link keeps the payment that paid it: its channel and status."""
    order = order_factory(items=[("Batik shirt", 100_000, 1)])
    link = services.create_payment_link(order)
    session = STORE.find(CLIENT_ID, link.invoice_number)
    assert session is not None
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=True))
    actions.settle(session, "fail", "EMONEY_OVO")
    late_failure = notification_sender(live_doku, order, "FAILED")  # DOKU's body of that attempt, sent later
    STORE.set_faults(CLIENT_ID, Faults())
    actions.settle(session, "pay", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    actions.mark_settled(session)

    assert late_failure() == 200
    link.refresh_from_db()
    assert (link.status, link.payment_channel, link.last_transaction_status) == (
        CheckoutSession.Status.PAID,
        "CREDIT_CARD",
        "SUCCESS",
    )
    refund = refund_at_doku(order, 10_000)
    assert (refund.method, refund.status) == (Refund.Method.CARD_API, Refund.Status.SUCCEEDED)
