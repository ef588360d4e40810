"""DOKU's rules an order must keep on every attempt: card pages' invoice numbers, an order's own split rule."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from django_doku_checkout import payloads, services
from django_doku_checkout.exceptions import DokuValidationError
from django_doku_checkout.models import CheckoutSession, Order, OrderStatus
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.simulator.store import STORE
from tests.pages import change_form_data

CART = [LineItemData(name="Kopi", price=60_000, quantity=2)]


def test_every_card_page_after_a_checkout_attempt_keeps_27_characters(doku_simulator):
    order = services.create_order(
        line_items=CART,
        invoice_number="SHOP-2026-12-04-0000123456",  # 26 characters: no room for "-2"
        customer_id="c1",
        customer_name="Siti",
        customer_email="siti@example.com",
        customer_phone="081234567890",
        customer_address="Jl. Sudirman 1",
        customer_country="ID",
    )
    services.create_payment_link(order)
    doku_simulator.expire(order)
    pages = []
    for _ in range(2):
        page = services.create_card_payment_page(order)
        pages.append(page.invoice_number)
        page.status = CheckoutSession.Status.EXPIRED
        page.save()

    # The order's first characters give way; its end, which tells orders apart, stays.
    assert pages == ["HOP-2026-12-04-0000123456-2", "HOP-2026-12-04-0000123456-3"]
    assert max(len(number) for number in pages) == payloads.MAX_CARD_PAGE_INVOICE_NUMBER


def test_an_orders_split_rule_without_its_sub_account_is_refused_not_dropped(live_doku, doku_settings):
    doku_settings(SUB_ACCOUNT_ID="SAC-MAIN-1", SUB_ACCOUNT_SPLIT_RULE_ID="SR-MAIN")

    with pytest.raises(
        DokuValidationError, match=r"split_rule_id 'SR-ORDER-ONLY' needs the order's own sub_account_id"
    ):
        services.create_order(line_items=CART, split_rule_id="SR-ORDER-ONLY")

    # An order saved with it anyway (before this rule, or around create_order) gets no link either.
    order = services.create_order(line_items=CART)
    Order.objects.filter(pk=order.pk).update(split_rule_id="SR-ORDER-ONLY")
    order.refresh_from_db()
    with pytest.raises(DokuValidationError, match=r"split_rule_id 'SR-ORDER-ONLY' needs the order's own"):
        services.create_payment_link(order)

    sent = [json.loads(r.body) for r in STORE.received if r.target == "/checkout/v1/payment"]
    assert sent == []


def test_the_admin_refuses_an_orders_split_rule_without_its_sub_account(admin_client, order_factory):
    order = order_factory()
    url = reverse("admin:django_doku_checkout_order_change", args=[order.pk])

    response = admin_client.post(url, change_form_data(order, split_rule_id="SR-ORDER-ONLY"))

    assert response.status_code == 200  # the form again, with the error
    assert "split_rule_id &#x27;SR-ORDER-ONLY&#x27; needs the order&#x27;s own sub_account_id" in (
        response.content.decode()
    )
    assert Order.objects.get(pk=order.pk).split_rule_id == ""
    saved = admin_client.post(url, change_form_data(order, sub_account_id="SAC-7", split_rule_id="SR-7"))
    assert saved.status_code == 302


def test_a_reduced_success_before_the_refund_is_recorded_says_what_differs(doku_simulator, order_factory):
    order = order_factory(items=[("Barang", 100_000, 1)])
    doku_simulator.pay(order, "CREDIT_CARD")
    doku_simulator.settle(order)

    # Staff refunded 30.000 in DOKU's back office; DOKU's reduced SUCCESS comes before it is recorded.
    assert doku_simulator.notify(order, "SUCCESS", amount=70_000) == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.needs_review
    assert order.review_reason == (
        f"DOKU reported SUCCESS for {order.invoice_number}, already recorded as paid, with IDR 70000, but its "
        "payment less recorded refunds is IDR 100000 (paid 100000, refunded 0): a refund made at DOKU and not "
        "recorded here, or a changed payment; compare with DOKU's back office."
    )

    # The refund recorded late: the order follows it, the flag stays for staff to clear, nothing more is flagged.
    services.record_manual_refund(order, amount=30_000, reference="REF-LATE-1")
    assert doku_simulator.notify(order, "SUCCESS", amount=70_000) == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert order.needs_review
    assert "not marked paid" not in order.review_reason
    assert len(order.review_reason.splitlines()) == 1


def test_every_checkout_attempt_that_may_offer_a_card_keeps_30_characters(doku_simulator):
    order = services.create_order(line_items=CART, invoice_number="SHOP-2026-12-04-00000000123456")  # 30
    first = services.create_payment_link(order)
    doku_simulator.expire(order)

    again = services.create_payment_link(order)

    assert (first.invoice_number, again.invoice_number) == (order.invoice_number, "OP-2026-12-04-00000000123456-2")
    assert len(again.invoice_number) == payloads.MAX_CARD_CHECKOUT_INVOICE_NUMBER
