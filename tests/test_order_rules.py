"""DOKU's rules an order must keep on every attempt: card pages' invoice numbers, an order's own split rule."""

from __future__ import annotations

import json

import pytest

from django_doku_checkout import payloads, services
from django_doku_checkout.exceptions import DokuValidationError
from django_doku_checkout.models import CheckoutSession
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.simulator.store import STORE

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
