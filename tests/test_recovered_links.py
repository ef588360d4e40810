"""Links DOKU may still take money on: reconciliation finds them, ORDER_RECOVERED reopens only the payable one.

With abandoned-cart recovery an expired link stays payable at DOKU until its
``recoverable_until``; a withdrawn link DOKU did not cancel stays payable until it runs out.
A payment on either, its notification lost, is found by reconciliation whatever the order's
status (cancelled, paid); DOKU's ORDER_RECOVERED reopens an expired order once, and only
through its current attempt.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.admin import editing
from django_doku_checkout.models import CheckoutSession, Delivery, Order, OrderEvent, OrderStatus
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services import shopper
from django_doku_checkout.services.cancellations import open_links
from django_doku_checkout.services.settlement import apply_payment_result, parse_payment_result
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.store import STORE
from tests.doku import SANDBOX

TRAFFIC = Path(__file__).parent / "doku_traffic"
ITEMS = [LineItemData(name="Kopi Toraja 250g", price=60_000, quantity=2)]


def _recoverable_order() -> Order:
    return services.create_order(line_items=ITEMS, recover_abandoned_cart=True, expired_recovered_cart=120)


def _untouched_for_an_hour(order: Order) -> None:
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=1))


def _expired_link(order: Order, invoice: str, status: str) -> CheckoutSession:
    """A link past DOKU's expiry, still in its recovery window."""
    return order.checkout_sessions.create(
        invoice_number=invoice,
        request_id="req-" + invoice,
        payment_url="https://staging.doku.com/checkout-link-v2/" + invoice,
        status=status,
        expires_at=timezone.now() - timedelta(minutes=30),
        recoverable_until=timezone.now() + timedelta(hours=1),
    )


def _recovered_body(invoice: str) -> str:
    return (TRAFFIC / "status_order_recovered.json").read_text().strip().replace("INV-RECOVERED-1", invoice)


def _doku_says_recovered(doku_api, invoice: str) -> None:
    doku_api.get(
        f"{SANDBOX}/orders/v1/status/{invoice}", body=_recovered_body(invoice), content_type="application/json"
    )


@pytest.mark.parametrize("cancel_at_doku", [False, True])
def test_a_payment_on_a_cancelled_orders_recoverable_link_is_found_by_reconciliation(
    doku_simulator, doku_settings, cancel_at_doku
):
    """Staff cancel an expired order; DOKU's recovery still takes a payment; its notification is lost."""
    doku_settings(CANCEL_AT_DOKU=cancel_at_doku)
    order = _recoverable_order()
    link = services.create_payment_link(order)
    doku_simulator.session_for(order).channel = "VIRTUAL_ACCOUNT_BCA"
    doku_simulator.expire(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    services.cancel_order(order)
    link.refresh_from_db()
    assert link.cancelled_at_doku is None  # DOKU refused (or was not asked): still payable
    doku_simulator.set_faults(drop_notifications=True)
    actions.settle(doku_simulator.session_for(order), "pay", "VIRTUAL_ACCOUNT_BCA")
    _untouched_for_an_hour(order)

    reconcile()

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.needs_review, "DOKU took a payment on the cancelled order; nothing records it"


def test_a_payment_on_a_cancelled_orders_open_link_is_found_by_reconciliation(doku_simulator):
    """The same without recovery: a withdrawn open link DOKU still takes (CANCEL_AT_DOKU off)."""
    order = services.create_order(line_items=ITEMS)
    services.create_payment_link(order)
    services.cancel_order(order)
    doku_simulator.set_faults(drop_notifications=True)
    actions.settle(doku_simulator.session_for(order), "pay", "VIRTUAL_ACCOUNT_BCA")
    _untouched_for_an_hour(order)

    reconcile()

    order.refresh_from_db()
    assert order.needs_review, "DOKU took a payment on the cancelled order; nothing records it"


def test_a_pay_click_on_an_expired_order_hands_back_its_recoverable_link(doku_simulator):
    """DOKU still takes a payment on the expired link: a second DOKU order would let the shopper pay twice."""
    order = _recoverable_order()
    first = services.create_payment_link(order)
    doku_simulator.expire(order)

    again = services.create_payment_link(order)

    assert again.pk == first.pk
    assert list(order.checkout_sessions.values_list("pk", flat=True)) == [first.pk]
    assert editing.doku_has_it(order)


def test_a_second_payment_with_a_lost_notification_on_a_paid_orders_other_link_is_found(doku_simulator):
    """Link 1's recovery window nearly closed, so a pay click made link 2; both paid, link 2's notification lost."""
    order = _recoverable_order()
    first = services.create_payment_link(order)
    doku_simulator.expire(order)
    closing = timezone.now() + timedelta(minutes=1)  # within REUSE_MARGIN: not handed out again
    CheckoutSession.objects.filter(pk=first.pk).update(expires_at=closing, recoverable_until=closing)
    second = services.create_payment_link(order)
    assert second.pk != first.pk
    client_id = doku_simulator.session_for(order).client_id
    actions.settle(STORE.find(client_id, first.invoice_number), "pay", "VIRTUAL_ACCOUNT_BCA")
    STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    doku_simulator.set_faults(drop_notifications=True)
    actions.settle(STORE.find(client_id, second.invoice_number), "pay", "VIRTUAL_ACCOUNT_BCA")
    _untouched_for_an_hour(order)

    reconcile()

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.needs_review, "a second payment DOKU took is recorded nowhere"


def test_reconciliation_does_not_flip_a_recovered_order_back_and_forth(order_factory, doku_api):
    """DOKU says ORDER_RECOVERED (payable again) on every run: the order reopens once, and never expires again."""
    order = order_factory(invoice_number="INV-RECOVERED-1", items=[("Barang", 120_000, 1)])
    _expired_link(order, "INV-RECOVERED-1", CheckoutSession.Status.EXPIRED)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.EXPIRED)
    _doku_says_recovered(doku_api, "INV-RECOVERED-1")
    for _ in range(3):
        _untouched_for_an_hour(order)
        reconcile()

    events = list(OrderEvent.objects.filter(order=order).values_list("old_status", "new_status"))
    assert events == [(OrderStatus.EXPIRED, OrderStatus.PENDING)]
    assert not Delivery.objects.filter(order=order, signal="payment_expired").exists()


def test_recovered_answer_for_a_withdrawn_link_leaves_the_order_expired(order_factory, doku_api):
    """The amount of an expired order changed (its recoverable link withdrawn); DOKU then says ORDER_RECOVERED for it."""
    order = order_factory(invoice_number="INV-W-1", items=[("Barang", 120_000, 1)])
    link = _expired_link(order, "INV-W-1", CheckoutSession.Status.CANCELLED)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.EXPIRED)
    _doku_says_recovered(doku_api, "INV-W-1")

    check = services.check_status(order)

    link.refresh_from_db()
    assert check.order.status == OrderStatus.EXPIRED
    assert link.status == CheckoutSession.Status.CANCELLED
    assert not OrderEvent.objects.filter(order=order).exists()


def test_recovered_answer_for_an_old_link_of_a_paid_order_reopens_nothing(order_factory):
    order = order_factory(invoice_number="INV-P-1", items=[("Barang", 120_000, 1)])
    old = _expired_link(order, "INV-P-1", CheckoutSession.Status.EXPIRED)
    paid = _expired_link(order, "INV-P-1-2", CheckoutSession.Status.PAID)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PAID, paid_link=paid)

    result = parse_payment_result(json.loads(_recovered_body("INV-P-1")))
    assert result is not None
    apply_payment_result(old, result, source=OrderEvent.Source.STATUS_CHECK)

    old.refresh_from_db()
    order.refresh_from_db()
    assert old.status == CheckoutSession.Status.EXPIRED
    assert order.status == OrderStatus.PAID
    assert old not in [link for link in open_links(order) if link.status == CheckoutSession.Status.OPEN]


def test_options_read_only_while_a_recoverable_link_may_be_paid(order_factory):
    order = order_factory(invoice_number="INV-R-9", items=[("Barang", 120_000, 1)], recover_abandoned_cart=True)
    _expired_link(order, "INV-R-9", CheckoutSession.Status.EXPIRED)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.EXPIRED)
    order.refresh_from_db()

    assert "payment_methods_display" in editing.readonly_fields(order)


def test_a_reopened_link_is_shown_payable_until_its_recovery_window_closes(order_factory):
    order = order_factory(invoice_number="INV-O-1", items=[("Barang", 120_000, 1)], recover_abandoned_cart=True)
    link = _expired_link(order, "INV-O-1", CheckoutSession.Status.OPEN)  # reopened by ORDER_RECOVERED
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING)
    order.refresh_from_db()

    assert shopper.pay_until(order) == link.recoverable_until


def test_a_flagged_payment_on_a_cancelled_orders_link_is_asked_about_once(doku_simulator):
    order = services.create_order(line_items=ITEMS)
    services.create_payment_link(order)
    services.cancel_order(order)
    doku_simulator.set_faults(drop_notifications=True)
    actions.settle(doku_simulator.session_for(order), "pay", "VIRTUAL_ACCOUNT_BCA")
    _untouched_for_an_hour(order)
    assert len(reconcile().orders) == 1
    _untouched_for_an_hour(order)

    assert reconcile().orders == []  # recorded and flagged: DOKU takes no second payment on that link
