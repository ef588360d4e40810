"""Every body DOKU was seen sending, run through the app end to end (``tests/doku_traffic/``).

Notifications go to the notification endpoint, signed as DOKU signs them; status answers are
served at DOKU's HTTP edge (``responses``) to ``check_status`` and to reconciliation.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from pathlib import Path

import pytest
import responses
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.exceptions import DokuAPIError
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderStatus
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services.settlement import apply_payment_result
from django_doku_checkout.services.status import fetch_status
from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY
from tests.doku import CLIENT_ID as TESTS_CLIENT_ID
from tests.doku import SANDBOX, SECRET
from tests.test_views import signed_post

TRAFFIC = Path(__file__).parent / "doku_traffic"


def captured(name: str) -> bytes:
    """The body exactly as DOKU sent it."""
    return (TRAFFIC / name).read_bytes().strip()


def order_for(order_factory, body: bytes, **fields) -> Order:
    """An order with the captured invoice number and amount, and one open link for it."""
    data = json.loads(body)["order"]
    amount = int(float(data["amount"]))
    order = order_factory(invoice_number=data["invoice_number"], items=[("Barang", amount, 1)], **fields)
    order.checkout_sessions.create(
        invoice_number=data["invoice_number"],
        request_id=f"req-{data['invoice_number']}",
        payment_url="https://sandbox.doku.com/checkout-link-v2/x",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING)
    order.refresh_from_db()
    return order


# --- notifications -----------------------------------------------------------------------------------


def test_a_captured_bca_virtual_account_notification_pays_its_order(order_factory, doku_simulator):
    body = captured("notification_va_bca_checkout.json")
    order = order_for(order_factory, body)

    response = signed_post(body, secret=SECRET_KEY, client_id=CLIENT_ID)

    assert (response.status_code, response.content) == (200, b"SUCCESS: processed")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    link = order.checkout_sessions.get()
    assert (link.payment_channel, link.original_request_id) == (
        "VIRTUAL_ACCOUNT_BCA",
        "d7721e1c-5dbe-4399-9d82-8b55918d88cb",
    )
    assert Notification.objects.get().body.encode() == body  # the evidence, byte for byte


def test_a_captured_card_authorization_is_recorded_not_paid(order_factory, doku_simulator):
    body = captured("notification_card_authorize.json")
    order = order_for(order_factory, body)

    response = signed_post(body, secret=SECRET_KEY, client_id=CLIENT_ID)

    # An authorization holds the money; only a SALE (SUCCESS) or a capture takes it.
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    link = order.checkout_sessions.get()
    assert (link.last_transaction_status, link.original_request_id) == ("PENDING", "d074028e2246fd758e4172bb1b59031c")
    assert Notification.objects.get().outcome == Notification.Outcome.IGNORED


# --- status answers ----------------------------------------------------------------------------------


def status_url(invoice_number: str) -> str:
    return f"{SANDBOX}/orders/v1/status/{invoice_number}"


def test_a_captured_status_answer_pays_through_check_status_and_reconciliation(order_factory, doku_api):
    body = captured("status_va_danamon_success.json")
    checked, reconciled = order_for(order_factory, body), None
    doku_api.get(status_url("INV-20241122162804"), body=body, content_type="application/json")

    check = services.check_status(checked)

    assert (check.transaction_status, check.order.status) == ("SUCCESS", OrderStatus.PAID)
    assert checked.checkout_sessions.get().original_request_id == "7196cfff-12ad-4467-a953-d50f22742e1e"

    # The same answer, found by reconciliation for an order whose notification was lost.
    Order.objects.all().delete()
    reconciled = order_for(order_factory, body)
    Order.objects.filter(pk=reconciled.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    [line] = reconcile().orders
    assert (line.outcome, line.new_status) == ("changed", OrderStatus.PAID)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b""),  # "returns Not Found", with no documented status or body
        (404, b"Not Found"),
        (200, captured("error_header_required.json")),  # DOKU's plugin tests for an "error" key
        (400, captured("error_invalid_parameter.json")),
        (401, captured("error_header_required.json")),
        (200, b"{}"),
    ],
)
def test_status_answers_in_every_shape_leave_the_order_and_let_reconciliation_go_on(
    order_factory, doku_api, status, body
):
    silent = order_for(order_factory, captured("status_va_danamon_success.json"))
    link = silent.checkout_sessions.get()
    link.expires_at = timezone.now() - timedelta(hours=2)  # long past DOKU's expiry
    link.save()
    paid_elsewhere = order_for(order_factory, captured("notification_va_bca_checkout.json"))
    Order.objects.update(updated_at=timezone.now() - timedelta(hours=3))
    doku_api.get(status_url(silent.invoice_number), status=status, body=body)
    answer = json.loads(captured("notification_va_bca_checkout.json"))
    doku_api.get(status_url(paid_elsewhere.invoice_number), json=answer)

    summary = reconcile()

    lines = {line.invoice_number: line for line in summary.orders}
    # The silent order's overdue link was expired all the same, and the next order was still checked.
    assert (lines[silent.invoice_number].outcome, lines[silent.invoice_number].new_status) == (
        "changed",
        OrderStatus.EXPIRED,
    )
    assert lines[paid_elsewhere.invoice_number].new_status == OrderStatus.PAID
    if status == 200 and body != b"{}":
        with pytest.raises(DokuAPIError, match="Header Client-Id is required"):
            fetch_status(link)


def test_dokus_create_error_is_recorded_with_its_message(order_factory, doku_api):
    order = order_factory()
    doku_api.post(SANDBOX + "/checkout/v1/payment", status=400, body=captured("create_error_amount_not_match.json"))
    with pytest.raises(DokuAPIError, match="AMOUNT NOT MATCH"):
        services.create_payment_link(order)
    assert order.checkout_sessions.get().status == CheckoutSession.Status.ERROR


# --- refunds, voids and authorizations (DOKU's documented status shapes) ----------------------------


def refund_answer(invoice_number: str, status: str, kind: str, amount: str | None) -> dict:
    body = copy.deepcopy(json.loads(captured("status_va_danamon_success.json")))
    body["order"]["invoice_number"] = invoice_number
    body["transaction"].update({"status": status, "type": kind})
    if amount is not None:
        body["refund"] = {"amount": amount}
    return body


@pytest.mark.parametrize(
    ("status", "kind", "amount", "new_status"),
    [
        ("REFUNDED", "FULL_REFUND", "340000", OrderStatus.REFUNDED),
        ("VOIDED", "VOID", None, OrderStatus.REFUNDED),
        ("REFUNDED", "PARTIAL_REFUND", "1000", OrderStatus.PARTIALLY_REFUNDED),
    ],
)
def test_refunds_and_voids_of_the_paying_attempt(order_factory, doku_api, status, kind, amount, new_status):
    order = order_for(order_factory, captured("status_va_danamon_success.json"))
    doku_api.get(status_url(order.invoice_number), body=captured("status_va_danamon_success.json"))
    services.check_status(order)
    doku_api.replace(
        responses.GET, status_url(order.invoice_number), json=refund_answer(order.invoice_number, status, kind, amount)
    )

    check = services.check_status(order)

    assert check.order.status == new_status
    assert not check.order.needs_review
    assert services.refunded_total(order) == (1000 if amount == "1000" else 340000)
    # Every later status answer names the same refund: it is recorded once.
    assert services.check_status(order).outcome == Notification.Outcome.DUPLICATE
    assert order.refunds.count() == 1


def test_a_refund_of_another_attempt_never_refunds_the_order(order_factory, doku_api):
    order = order_for(order_factory, captured("status_va_danamon_success.json"))
    doku_api.get(status_url(order.invoice_number), body=captured("status_va_danamon_success.json"))
    services.check_status(order)
    # An older attempt was paid twice by mistake; DOKU refunds that duplicate.
    older = order.checkout_sessions.create(invoice_number=f"{order.invoice_number}-2", request_id="req-older")
    doku_api.get(
        status_url(older.invoice_number), json=refund_answer(older.invoice_number, "REFUNDED", "FULL_REFUND", "340000")
    )

    assert apply_payment_result(older, fetch_status(older), source="status_check") == Notification.Outcome.FLAGGED
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, True)


def test_a_pending_confirmation_makes_doku_retry(order_factory, doku_api, doku_settings):
    doku_settings(CONFIRM_WITH_STATUS_API=True)
    body = captured("notification_va_bca_checkout.json")
    order = order_for(order_factory, body)
    pending = json.loads(body)
    pending["transaction"]["status"] = "PENDING"
    doku_api.get(status_url(order.invoice_number), json=pending)

    response = signed_post(body, secret=SECRET, client_id=TESTS_CLIENT_ID)  # the test settings' own keys

    # DOKU asks for status checks no sooner than 60 s after payment: a 503 gets its retry.
    assert response.status_code == 503
    assert Notification.objects.get().outcome == Notification.Outcome.UNCONFIRMED
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
