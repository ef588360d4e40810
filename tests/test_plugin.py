"""The pytest plugin a shop uses in its own tests: in-process simulator, no sockets."""

from __future__ import annotations

import pytest
from django.urls import reverse

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
    doku_simulator.expire(order)  # creates the link without paying
    assert doku_simulator.notify(order, "SUCCESS", amount=1) == 200
    order.refresh_from_db()
    assert order.needs_review and order.status == OrderStatus.PENDING
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
