"""The pytest plugin a shop uses in its own tests: in-process simulator, no sockets."""

from __future__ import annotations

import pytest
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.models import Notification, OrderStatus


def test_a_shop_tests_its_payment_handler_in_three_lines(doku_simulator, order_factory, client, signal_log):
    order = order_factory()
    response = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
    assert response.status_code == 302
    assert response["Location"].startswith("http://testserver/doku-simulator/pay/")

    assert doku_simulator.pay(order) == 200
    assert order.status == OrderStatus.PAID
    assert ("payment_succeeded", order.invoice_number, "") in signal_log


def test_fail_keeps_the_order_payable_and_expire_expires_it(doku_simulator, order_factory):
    order = order_factory()
    assert doku_simulator.fail(order, method="EMONEY_OVO") == 200
    assert order.status == OrderStatus.PENDING
    assert order.checkout_sessions.get().last_transaction_status == "FAILED"
    doku_simulator.expire(order)
    assert doku_simulator.session_for(order).status == "EXPIRED"


def test_notify_sends_a_correctly_signed_notification(doku_simulator, order_factory):
    order = order_factory()
    services.create_payment_link(order)  # the link, unpaid
    assert doku_simulator.notify(order, "SUCCESS", amount=1) == 200
    order.refresh_from_db()
    assert order.needs_review
    assert order.status == OrderStatus.PENDING
    stored = Notification.objects.get()
    assert stored.signature_valid is True
    assert stored.outcome == Notification.Outcome.FLAGGED


def test_session_for_an_order_without_link_is_a_clear_error(doku_simulator, order_factory):
    with pytest.raises(LookupError, match="has no payment link"):
        doku_simulator.session_for(order_factory())


def test_faults_reach_the_app(doku_simulator, order_factory, client):
    doku_simulator.set_faults(error_rate=1)
    order = order_factory()
    response = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
    assert response.status_code == 502
    assert b"Try again" in response.content


#: What the shop's receivers below did: (receiver, invoice number).
shop_calls: list[tuple[str, str]] = []


def send_receipt(sender, order, **kwargs):
    shop_calls.append(("send_receipt", order.invoice_number))


def ship_order(sender, order, **kwargs):
    shop_calls.append(("ship_order", order.invoice_number))


def test_a_shop_makes_its_receiver_fail_once_and_sees_it_retried(doku_simulator, order_factory):
    from django_doku_checkout.signals import payment_succeeded
    from django_doku_checkout.testing import ReceiverFailure

    shop_calls.clear()
    payment_succeeded.connect(send_receipt, weak=False)
    payment_succeeded.connect(ship_order, weak=False)
    try:
        order = order_factory()
        with doku_simulator.failing_receiver(send_receipt, times=1):
            assert doku_simulator.pay(order) == 200
        assert shop_calls == [("ship_order", order.invoice_number)]  # the other receiver ran
        failed = order.deliveries.get(receiver=f"{__name__}.send_receipt")
        assert ReceiverFailure.__name__ in failed.last_error

        assert [delivery.pk for delivery in doku_simulator.deliver().delivered] == [failed.pk]
        assert doku_simulator.deliver().delivered == []  # delivered once, never again
        assert shop_calls == [("ship_order", order.invoice_number), ("send_receipt", order.invoice_number)]
    finally:
        payment_succeeded.disconnect(send_receipt)
        payment_succeeded.disconnect(ship_order)


def test_failing_receiver_names_a_receiver_that_is_not_connected(doku_simulator):
    with pytest.raises(LookupError, match="not connected"), doku_simulator.failing_receiver(send_receipt):
        pass
