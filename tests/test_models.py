from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import IntegrityError

from django_doku_checkout.models import Order
from django_doku_checkout.redaction import mask_card_numbers, redact


def test_migrations_are_up_to_date(db):
    out = StringIO()
    call_command("makemigrations", "django_doku_checkout", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_order_public_id_is_random_and_amount_integer(order_factory):
    first, second = order_factory(), order_factory()
    assert isinstance(first.public_id, uuid.UUID)
    assert first.public_id.version == 4
    assert first.public_id != second.public_id
    assert Order._meta.get_field("amount").get_internal_type() == "PositiveBigIntegerField"
    assert first.line_items_total() == first.amount == 240_000
    assert str(first) == first.invoice_number


def test_invoice_numbers_are_unique(order_factory):
    order_factory(invoice_number="INV-SAME")
    with pytest.raises(IntegrityError):
        order_factory(invoice_number="INV-SAME")


def test_redaction_masks_credentials_and_card_numbers():
    payload = {
        "headers": {"Signature": "HMACSHA256=abc", "Client-Id": "MCH-1"},
        "card": {"number": "4111 1111 1111 1111", "masked_card_number": "557338******1135", "cvv": "123"},
        "note": "paid with 5500000000000004 today",
        "invoice": "INV-1234567890123",  # not Luhn-valid: kept
    }
    cleaned = redact(payload)
    assert cleaned["headers"] == {"Signature": "[redacted]", "Client-Id": "MCH-1"}
    assert cleaned["card"] == {
        "number": "411111******1111",
        "masked_card_number": "557338******1135",
        "cvv": "[redacted]",
    }
    assert cleaned["note"] == "paid with 550000******0004 today"
    assert cleaned["invoice"] == "INV-1234567890123"
    assert mask_card_numbers("no numbers") == "no numbers"


def test_a_uuid_whose_digits_look_like_a_card_number_is_left_whole():
    # An order's public_id in a callback URL: "4501-9123-881984631" is 16 digits, Luhn-valid.
    url = "https://toko.example.id/doku/return/0b6c2f3e-147a-4501-9123-881984631dc5/"
    assert mask_card_numbers(url) == url
    assert mask_card_numbers(f"{url} card 4111 1111 1111 1111") == f"{url} card 411111******1111"
