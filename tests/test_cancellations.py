"""Cancelling links at DOKU (CANCEL_AT_DOKU), against the simulator over real HTTP."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.models import CheckoutSession, OrderStatus
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.store import STORE
from tests.conftest import CLIENT_ID

CANCEL_TARGET = "/checkout/v3/cancellations"


def cancel_requests() -> list[dict]:
    return [json.loads(r.body) for r in STORE.received if r.target == CANCEL_TARGET]


def test_cancelling_an_order_cancels_its_link_at_doku(live_doku, order_factory, doku_settings, signal_log):
    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA", "QRIS"])
    link = services.create_payment_link(order)

    services.cancel_order(order)

    link.refresh_from_db()
    assert (order.status, link.status) == (OrderStatus.CANCELLED, CheckoutSession.Status.CANCELLED)
    assert link.cancelled_at_doku is not None and link.doku_cancel_error == ""
    assert cancel_requests() == [{"order": {"invoice_number": link.invoice_number}}]
    assert services.links_payable_at_doku(order) == []
    simulated = STORE.find(CLIENT_ID, link.invoice_number)
    assert simulated.cancelled
    with pytest.raises(ValueError, match="can no longer be paid"):
        actions.settle(simulated, "pay", "VIRTUAL_ACCOUNT_BCA")  # the shopper cannot pay it any more


def test_a_link_doku_cannot_cancel_is_reported(live_doku, order_factory, doku_settings, admin_client):
    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BTN", "CREDIT_CARD"])  # not cancellable at DOKU
    link = services.create_payment_link(order)

    page = admin_client.post(
        reverse("admin:django_doku_checkout_order_changelist"),
        {"action": "cancel_orders", "_selected_action": [order.pk]},
    ).content.decode()

    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.CANCELLED and link.cancelled_at_doku is None
    assert "UNSUPPORTED_CHANNEL" in link.doku_cancel_error
    assert "DOKU could not cancel these links, which can still be paid" in page and link.invoice_number in page
    assert services.links_payable_at_doku(order) == [link]
    assert len(cancel_requests()) == 1
    actions.settle(STORE.find(CLIENT_ID, link.invoice_number), "pay", "CREDIT_CARD")  # DOKU still takes it
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED and order.needs_review


def test_without_the_setting_doku_is_not_asked_and_staff_are_told(live_doku, order_factory, admin_client):
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    link = services.create_payment_link(order)

    page = admin_client.post(
        reverse("admin:django_doku_checkout_order_changelist"),
        {"action": "cancel_orders", "_selected_action": [order.pk]},
    ).content.decode()

    assert "A link already sent can still be paid at DOKU" in page
    assert cancel_requests() == []
    assert not STORE.find(CLIENT_ID, link.invoice_number).cancelled


@pytest.mark.parametrize(
    ("methods", "cancelled"),
    [(["VIRTUAL_ACCOUNT_BCA"], True), (["ONLINE_TO_OFFLINE_ALFA", "VIRTUAL_ACCOUNT_BPD_BALI"], False)],
)
def test_changing_the_amount_cancels_the_old_link_at_doku(
    live_doku, order_factory, doku_settings, admin_client, methods, cancelled
):
    from tests.conftest import change_form_data
    from tests.test_admin import change_url

    doku_settings(CANCEL_AT_DOKU=True)
    order = order_factory(payment_method_types=methods)
    old = services.create_payment_link(order)
    data = change_form_data(order, amount=390_000, **{"line_items-0-quantity": 2})
    data["payment_method_types"] = methods  # ticked boxes

    response = admin_client.post(change_url(order), data, follow=True)

    messages = " ".join(str(m) for m in response.context["messages"])
    old.refresh_from_db()
    assert old.status == CheckoutSession.Status.CANCELLED
    assert (old.cancelled_at_doku is not None) is cancelled
    assert STORE.find(CLIENT_ID, old.invoice_number).cancelled is cancelled
    if cancelled:
        assert "withdrawn and cancelled at DOKU" in messages
    else:
        assert "DOKU could not cancel it and it can still be paid" in messages and old.invoice_number in messages
    assert len(cancel_requests()) == 1


def test_without_the_setting_an_amount_change_says_the_old_link_can_still_be_paid(
    live_doku, order_factory, admin_client
):
    from tests.conftest import change_form_data
    from tests.test_admin import change_url

    order = order_factory()
    services.create_payment_link(order)
    data = change_form_data(order, amount=390_000, **{"line_items-0-quantity": 2})
    response = admin_client.post(change_url(order), data, follow=True)
    messages = " ".join(str(m) for m in response.context["messages"])
    assert "DOKU still accepts payment on the old link" in messages
    assert cancel_requests() == []
