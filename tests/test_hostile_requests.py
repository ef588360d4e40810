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
from django_doku_checkout.services.notifications import REJECTED_BODY_BYTES, reprocess_notification
from tests.doku import CLIENT_ID, SECRET


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


def test_unsigned_requests_are_stored_and_logged_a_bounded_number_of_times(live_doku, settings, order_factory, caplog):
    """A flood of unsigned POSTs stores at most REJECTED_NOTIFICATIONS_PER_HOUR rows; DOKU still gets through."""
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "REJECTED_NOTIFICATIONS_PER_HOUR": 5}
    order = order_factory()
    session = services.create_payment_link(order)
    flood = b'{"order": {"invoice_number": "' + session.invoice_number.encode() + b'"}}'
    long_header = {"User-Agent": "x" * 5000}
    path = reverse("doku_checkout:notification")

    with caplog.at_level("WARNING", logger="django_doku_checkout"):
        answers = [
            requests.post(live_doku + path, data=flood, headers=long_header, timeout=30).status_code for _ in range(30)
        ]
        signed = post(live_doku, json.dumps(payment(session.invoice_number)).encode())

    assert answers == [401] * 30
    rejected = Notification.objects.filter(signature_valid=False)
    assert rejected.count() == 5
    assert all(len(row.headers["User-Agent"]) <= 256 for row in rejected)
    # The verified notification is never counted against the bound: stored and applied.
    assert signed.status_code == 200
    assert Notification.objects.get(signature_valid=True).outcome == Notification.Outcome.PROCESSED
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    messages = [record.getMessage() for record in caplog.records if record.name.startswith("django_doku_checkout")]
    assert sum(message.startswith("Rejected DOKU notification") for message in messages) == 5
    assert sum(message.startswith("Over 5 rejected DOKU notifications") for message in messages) == 1


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
    assert reprocess_notification(stored).status_code == 200
    # Staff read the body masked where it looks like a card number.
    page = admin_client.get(reverse("admin:django_doku_checkout_notification_change", args=[stored.pk]))
    assert "&quot;invoice_number&quot;: &quot;411111******1111&quot;" in page.content.decode()


REFUSED_AMOUNTS = [
    b'"85000.000000000001"',
    b"8.5e4",
    b'"85_000"',
    b'" 85000 "',
    '"８５０００"'.encode(),
    b"true",
    b"85000.5",
]
#: The forms DOKU sends: an integer, an integer-valued number, a string of ASCII digits.
ACCEPTED_AMOUNTS = [b"85000", b"85000.0", b'"85000"', b'"85000.00"']


@pytest.mark.parametrize(
    ("amount_literal", "pays"),
    [(literal, False) for literal in REFUSED_AMOUNTS] + [(literal, True) for literal in ACCEPTED_AMOUNTS],
)
def test_amounts_are_read_strictly(live_doku, order_factory, amount_literal, pays):
    order = order_factory(items=[("Kopi", 85_000, 1)])
    session = services.create_payment_link(order)
    body = encode_body(payment(session.invoice_number, "AMOUNT")).replace(b'"AMOUNT"', amount_literal)

    assert post(live_doku, body).status_code == 200

    order.refresh_from_db()
    assert (order.status == OrderStatus.PAID) is pays
    assert ("not marked paid" in order.review_reason) is not pays


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


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\@pay.doku.com/x",
        "https://evil.example@pay.doku.com/x",
        "https://user:pass@checkout.doku.com/x",
        "https://checkout.doku.com:8443/x",
        "https://checkout.doku.com/x\r\nLocation: https://evil.example",
        "https://checkout.doku.com\\.evil.example/x",
        "http://testserver:81/doku-simulator/pay/abc/",
    ],
)
def test_payment_urls_are_parsed_strictly(doku_simulator, url):
    assert not services.payment_url_allowed(url)


def test_a_get_of_the_pay_url_never_creates_a_link(live_doku, order_factory):
    order = order_factory()
    pay_url = live_doku + reverse("doku_checkout:pay", args=[order.public_id])

    preview = requests.get(pay_url, allow_redirects=False, timeout=10)  # a chat app's link preview

    assert preview.headers["Location"] == reverse("doku_checkout:result", args=[order.public_id])
    assert not order.checkout_sessions.exists()
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED
    # Once the shopper pressed Pay, a GET goes to the live link.
    session = services.create_payment_link(order)
    assert requests.get(pay_url, allow_redirects=False, timeout=10).headers["Location"] == session.payment_url


def test_a_forged_host_header_cannot_steer_the_shopper(live_doku, order_factory, doku_settings):
    from tests.pages import press_pay

    doku_settings(SITE_URL="https://toko.example.id")
    order = order_factory()
    shopper = requests.Session()
    shopper.headers["Host"] = "evil.example"  # ALLOWED_HOSTS = ["*"], as many shops have it
    assert press_pay(shopper, live_doku, order.public_id).status_code == 302
    sent = order.checkout_sessions.get().request_body["order"]
    assert sent["callback_url"] == f"https://toko.example.id/doku/return/{order.public_id}/"


def test_invoice_numbers_of_attempts_never_collide(live_doku, order_factory, admin_client):
    first = order_factory(invoice_number="SO-7")
    services.create_payment_link(first)
    first.checkout_sessions.update(status="expired")  # the shopper needs a second attempt
    other = order_factory(invoice_number="SO-7-2")  # another order took the number it would use
    services.create_payment_link(other)
    third = order_factory()

    changelist = reverse("admin:django_doku_checkout_order_changelist")
    report = admin_client.post(changelist, {"action": "create_payment_links", "_selected_action": [first.pk, third.pk]})

    assert {r.order.pk: r.outcome for r in report.context["results"]} == {first.pk: "created", third.pk: "created"}
    assert sorted(first.checkout_sessions.values_list("invoice_number", flat=True)) == ["SO-7", "SO-7-3"]


def test_the_same_wrong_amount_three_times_flags_once(live_doku, order_factory, signal_log):
    order = order_factory()
    session = services.create_payment_link(order)
    for _ in range(3):
        assert post(live_doku, encode_body(payment(session.invoice_number, amount=1))).status_code == 200
    order.refresh_from_db()
    assert len(order.review_reason.splitlines()) == 1
    assert [entry for entry in signal_log if entry[0] == "payment_needs_review"] == [
        ("payment_needs_review", order.invoice_number, order.review_reason)
    ]


def test_a_hanging_doku_holds_the_return_page_for_its_short_budget_only(order_factory, doku_settings, client):
    import socket
    import time

    order = order_factory(status=OrderStatus.PENDING)
    order.checkout_sessions.create(invoice_number=order.invoice_number, request_id="r-1", status="open")
    with socket.create_server(("127.0.0.1", 0)) as hanging:  # accepts, never answers
        doku_settings(API_BASE_URL=f"http://127.0.0.1:{hanging.getsockname()[1]}", STATUS_CHECK_DEADLINE=1)
        started = time.monotonic()
        page = client.get(reverse("doku_checkout:return", args=[order.public_id]))
        took = time.monotonic() - started
    assert page.status_code == 200
    assert took < 2  # the default TIMEOUT and MAX_RETRIES would hold it 25 s


def test_the_admin_never_offers_a_link_of_an_order_that_cannot_be_paid(order_factory, doku_simulator, admin_client):
    order = order_factory(customer_id="C-1", customer_address="Jl. Sudirman 1", customer_country="ID")
    leftover = services.create_payment_link(order)
    services.create_card_payment_page(order)
    doku_simulator.pay(order, method="CREDIT_CARD")  # paid by card: the Checkout link is still open at DOKU
    order.refresh_from_db()
    leftover.refresh_from_db()
    assert (order.status, leftover.status) == (OrderStatus.PAID, "open")

    page = admin_client.get(reverse("admin:django_doku_checkout_order_change", args=[order.pk])).content.decode()
    listed = admin_client.get(reverse("admin:django_doku_checkout_order_changelist")).content.decode()

    assert 'id="doku-open-link"' not in page
    assert 'id="doku-copy-link"' not in page
    assert "data-doku-copy" not in page
    assert "data-doku-copy" not in listed
