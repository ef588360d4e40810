"""Hostile and odd requests against a running shop, over real HTTP, in autocommit.

What an attacker sends is answered with a 4xx and stored in a bounded form; what DOKU
sends is stored as received and read strictly.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import requests
from django.db.models import Sum
from django.db.models.functions import Length
from django.urls import reverse

from django_doku_checkout import services, signatures
from django_doku_checkout.models import Notification, OrderStatus
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.services.notifications import REJECTED_BODY_BYTES
from tests.conftest import CLIENT_ID, SECRET


def post(base: str, body: bytes, *, secret: str | None = SECRET) -> requests.Response:
    """POST to the notification endpoint, signed with ``secret`` (or not signed at all)."""
    path = reverse("doku_checkout:notification")
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers = signatures.signed_headers(secret, client_id=CLIENT_ID, target=path, body=body)
    return requests.post(base + path, data=body, headers=headers, timeout=30)


def payment(invoice: str, amount: object = 240_000, *, status: str = "SUCCESS", **extra: object) -> dict:
    return {
        "order": {"invoice_number": invoice, "amount": amount, **extra},
        "transaction": {"status": status},
        "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
    }


def test_unsigned_junk_cannot_fill_the_database(live_doku):
    junk = b'{"order": "' + b"x" * 60_000 + b'"}'
    answers = {post(live_doku, junk, secret=None).status_code for _ in range(50)}

    assert answers == {401}
    stored = Notification.objects.aggregate(total=Sum(Length("body")))["total"]
    assert Notification.objects.count() == 50
    assert stored <= 50 * REJECTED_BODY_BYTES  # the whole bodies would be 3 MB
    first = Notification.objects.first()
    assert (first.body_length, first.body_sha256) == (len(junk), hashlib.sha256(junk).hexdigest())
    assert first.outcome == Notification.Outcome.REJECTED


def test_deeply_nested_bodies_are_a_4xx_and_the_admin_still_shows_them(live_doku, order_factory, admin_client):
    order = order_factory()
    services.create_payment_link(order)
    unsigned = b"[" * 900 + b"]" * 900
    signed = json.dumps(
        {**payment(order.checkout_sessions.get().invoice_number), "x": json.loads("[" * 500 + "]" * 500)}
    ).encode()
    signed = signed[:-1] + b', "deep": ' + b"[" * 5000 + b"]" * 5000 + b"}"

    assert post(live_doku, unsigned, secret=None).status_code == 401
    assert post(live_doku, signed).status_code == 400

    deep = Notification.objects.get(signature_valid=True)
    assert (deep.outcome, deep.detail) == (Notification.Outcome.REJECTED, "Body is not JSON (or is nested too deeply).")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    for notification in Notification.objects.all():
        page = admin_client.get(reverse("admin:django_doku_checkout_notification_change", args=[notification.pk]))
        assert page.status_code == 200


def test_a_verified_body_is_stored_byte_for_byte_and_reprocessed_as_sent(live_doku, order_factory, admin_client):
    # A virtual-account number and an invoice number that happen to be Luhn-valid digit runs.
    order = order_factory(invoice_number="4111111111111111")
    session = services.create_payment_link(order)
    body = encode_body(
        {
            **payment(session.invoice_number),
            "virtual_account_info": {"virtual_account_number": "8808000000000000005"},
        }
    )
    Notification.objects.create(body="placeholder")  # ids are not guessable from the count
    assert post(live_doku, body).status_code == 200

    stored = Notification.objects.get(signature_valid=True)
    assert stored.body.encode() == body
    assert stored.body_sha256 == hashlib.sha256(body).hexdigest()
    assert stored.outcome == Notification.Outcome.PROCESSED
    # Reprocessing reads the same invoice number DOKU sent, not a masked one.
    stored.outcome = Notification.Outcome.FAILED
    stored.save()
    assert services.reprocess_notification(stored).status_code == 200
    # Staff read the body masked where it looks like a card number.
    page = admin_client.get(reverse("admin:django_doku_checkout_notification_change", args=[stored.pk]))
    assert "&quot;invoice_number&quot;: &quot;411111******1111&quot;" in page.content.decode()


@pytest.mark.parametrize(
    "amount_literal",
    [b'"85000.000000000001"', b"8.5e4", b'"85_000"', b'" 85000 "', '"８５０００"'.encode(), b"true", b"85000.5"],
)
def test_amounts_are_read_strictly(live_doku, order_factory, amount_literal):
    order = order_factory(items=[("Kopi", 85_000, 1)])
    session = services.create_payment_link(order)
    body = encode_body(payment(session.invoice_number, "AMOUNT")).replace(b'"AMOUNT"', amount_literal)

    assert post(live_doku, body).status_code == 200

    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.needs_review
    assert "not marked paid" in order.review_reason


@pytest.mark.parametrize("amount_literal", [b"85000", b"85000.0", b'"85000"', b'"85000.00"'])
def test_the_forms_doku_sends_are_accepted(live_doku, order_factory, amount_literal):
    order = order_factory(items=[("Kopi", 85_000, 1)])
    session = services.create_payment_link(order)
    body = encode_body(payment(session.invoice_number, "AMOUNT")).replace(b'"AMOUNT"', amount_literal)
    assert post(live_doku, body).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_statuses_are_compared_exactly(live_doku, order_factory):
    order = order_factory()
    session = services.create_payment_link(order)
    assert post(live_doku, encode_body(payment(session.invoice_number, status="ſuccess"))).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING  # "ſuccess".upper() == "SUCCESS", but DOKU never sends it


@pytest.mark.parametrize(("currency", "paid"), [({}, False), ({"currency": 840}, False), ({"currency": "USD"}, True)])
def test_an_order_in_another_currency_needs_doku_to_name_it(live_doku, order_factory, currency, paid):
    order = order_factory(currency="USD")
    session = services.create_payment_link(order)
    assert post(live_doku, encode_body(payment(session.invoice_number, **currency))).status_code == 200
    order.refresh_from_db()
    assert (order.status == OrderStatus.PAID) is paid
    assert order.needs_review is not paid
