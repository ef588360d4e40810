"""Per-order DOKU options, the body hook, and the shop's own objects, against the simulator over real HTTP."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.exceptions import DokuValidationError
from django_doku_checkout.models import Order
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID

ITEMS = [LineItemData(name="Kopi Toraja 250g", price=85_000, quantity=2)]


def sent_checkout_body() -> dict[str, Any]:
    """The body of the last Checkout request the simulator accepted (signed, so as we sent it)."""
    (*_, last) = (r for r in STORE.received if r.target == "/checkout/v1/payment")
    return json.loads(last.body)


def test_per_order_options_reach_doku(live_doku, doku_settings):
    doku_settings(SUB_ACCOUNT_ID="SAC-MAIN-1")
    order = services.create_order(
        line_items=ITEMS,
        payment_due_date=15,
        allow_tenor=[3, 6],
        recover_abandoned_cart=True,
        expired_recovered_cart=120,
        disable_retry_payment=True,
        sub_account_id="SAC-BRANCH-7",
    )

    link = services.create_payment_link(order)

    body = sent_checkout_body()
    assert body["payment"]["payment_due_date"] == 15
    assert body["additional_info"]["allow_tenor"] == [3, 6]
    assert body["additional_info"]["account"] == {"id": "SAC-BRANCH-7"}  # the order's own overrides the setting
    assert (
        body["order"]["recover_abandoned_cart"],
        body["order"]["expired_recovered_cart"],
        body["order"]["disable_retry_payment"],
    ) == (True, 120, True)
    assert link.expires_at is not None
    assert timedelta(minutes=14) < link.expires_at - timezone.now() <= timedelta(minutes=15)


def test_without_options_the_settings_apply_and_nothing_else_is_sent(live_doku, doku_settings):
    doku_settings(SUB_ACCOUNT_ID="SAC-MAIN-1", PAYMENT_DUE_DATE=45)
    services.create_payment_link(services.create_order(line_items=ITEMS))

    body = sent_checkout_body()
    assert body["payment"]["payment_due_date"] == 45
    assert body["additional_info"]["account"] == {"id": "SAC-MAIN-1"}
    assert "allow_tenor" not in body["additional_info"]
    assert not {"recover_abandoned_cart", "expired_recovered_cart", "disable_retry_payment"} & set(body["order"])


def override_notification_url(order: Order, body: dict[str, Any]) -> dict[str, Any]:
    """A shop's hook: its own notification URL for bookings, which DOKU added after this app was written."""
    if order.reference.startswith("booking:"):
        body["additional_info"]["override_notification_url"] = "https://branch.example.com/doku/notification/"
    return body


def break_the_amount(order: Order, body: dict[str, Any]) -> dict[str, Any]:
    body["order"]["amount"] = -1
    return body


def test_the_body_hook_shapes_what_is_sent(live_doku, doku_settings):
    doku_settings(CHECKOUT_BODY_HOOK="tests.test_order_options.override_notification_url")
    order = services.create_order(line_items=ITEMS, reference="booking:42")

    services.create_payment_link(order)

    assert (
        sent_checkout_body()["additional_info"]["override_notification_url"]
        == "https://branch.example.com/doku/notification/"
    )
    assert order.checkout_sessions.get().request_body["additional_info"]["override_notification_url"]


def test_the_body_hook_runs_before_validation(live_doku, doku_settings):
    doku_settings(CHECKOUT_BODY_HOOK="tests.test_order_options.break_the_amount")
    order = services.create_order(line_items=ITEMS)

    with pytest.raises(DokuValidationError, match="order.amount"):
        services.create_payment_link(order)
    assert not [r for r in STORE.received if r.target == "/checkout/v1/payment"]  # never sent


def test_reference_and_metadata_round_trip_to_signals_and_back(live_doku, signal_log, admin_client):
    seen: list[tuple[str, dict[str, Any]]] = []

    from django_doku_checkout.signals import payment_succeeded

    def fulfil(sender, order, **kwargs):
        seen.append((order.reference, order.metadata))

    payment_succeeded.connect(fulfil, weak=False, dispatch_uid="fulfil")
    try:
        order = services.create_order(
            line_items=ITEMS, reference="booking:42", metadata={"booking": 42, "seats": ["A1", "A2"]}
        )
        link = services.create_payment_link(order)
        actions.settle(STORE.find(CLIENT_ID, link.invoice_number), "pay", "VIRTUAL_ACCOUNT_BCA")
        assert STORE.wait_until_idle(10)
    finally:
        payment_succeeded.disconnect(dispatch_uid="fulfil")

    assert seen == [("booking:42", {"booking": 42, "seats": ["A1", "A2"]})]
    assert Order.objects.get(reference="booking:42").pk == order.pk  # from the shop's object to its order
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    found = admin_client.get(changelist, {"q": "booking:42"}).content.decode()
    assert order.invoice_number in found
    assert "booking:42" in found
