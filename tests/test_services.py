from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import requests
from django.db import connection
from django.test import RequestFactory

from django_doku_checkout import services
from django_doku_checkout.exceptions import (
    DokuAPIError,
    DokuConfigurationError,
    DokuTransportError,
    DokuValidationError,
)
from django_doku_checkout.models import CheckoutSession, OrderEvent, OrderStatus
from django_doku_checkout.redaction import REDACTED
from django_doku_checkout.services.orders import new_invoice_number
from django_doku_checkout.signals import order_status_changed, payment_succeeded
from tests.doku import SANDBOX, checkout_success

CHECKOUT_URL = SANDBOX + "/checkout/v1/payment"
pytestmark = pytest.mark.django_db(transaction=False)


def sent_body(doku_api, index=0) -> dict:
    return json.loads(doku_api.calls[index].request.body)


def test_create_payment_link_sends_order_and_stores_session(order_factory, doku_api):
    order = order_factory(customer_country="ID", payment_method_types=["VIRTUAL_ACCOUNT_BCA"])
    doku_api.post(CHECKOUT_URL, json=checkout_success(order.invoice_number))
    session = services.create_payment_link(order)

    body = sent_body(doku_api)
    assert body["order"]["invoice_number"] == order.invoice_number
    assert body["order"]["amount"] == 240_000
    assert body["order"]["currency"] == "IDR"
    assert body["order"]["line_items"][1] == {
        "id": "SKU2",
        "name": "Kopi Toraja 250g",
        "price": 45_000,
        "quantity": 2,
        "sku": "SKU2",
    }
    assert body["order"]["callback_url"] == f"https://shop.example.com/doku/return/{order.public_id}/"
    assert body["order"]["callback_url_cancel"] == f"https://shop.example.com/doku/cancel/{order.public_id}/"
    assert body["order"]["callback_url_result"] == f"https://shop.example.com/doku/result/{order.public_id}/"
    assert body["order"]["language"] == "EN"
    assert body["customer"] == {
        "name": "Siti Rahayu",
        "email": "siti@example.com",
        "phone": "6281234567890",
        "country": "ID",
    }
    assert body["payment"] == {"payment_due_date": 60, "payment_method_types": ["VIRTUAL_ACCOUNT_BCA"]}

    assert session.payment_url == "https://sandbox.doku.com/checkout-link-v2/tok123"
    assert session.token_id == "tok123"
    assert session.expires_at == datetime(2099, 12, 31, 16, 59, 59, tzinfo=UTC)
    assert session.request_id == doku_api.calls[0].request.headers["Request-Id"]
    assert session.request_body["order"]["invoice_number"] == order.invoice_number
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert list(order.events.values_list("old_status", "new_status", "source")) == [
        ("created", "pending", OrderEvent.Source.SHOPPER)
    ]


def test_callback_urls_come_from_the_request_only_without_site_url(order_factory, doku_api, doku_settings):
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    request = RequestFactory().post("/", HTTP_HOST="evil.example", secure=True)
    steered = order_factory()
    services.create_payment_link(steered, request=request)
    # With SITE_URL set, a forged Host header cannot choose where DOKU sends the shopper.
    assert sent_body(doku_api)["order"]["callback_url"] == f"https://shop.example.com/doku/return/{steered.public_id}/"

    doku_settings(SITE_URL=None)
    request = RequestFactory().post("/", HTTP_HOST="toko.example.id", secure=True)
    order = order_factory()
    services.create_payment_link(order, request=request)
    assert sent_body(doku_api, 1)["order"]["callback_url"] == f"https://toko.example.id/doku/return/{order.public_id}/"


def test_without_request_or_site_url_the_error_names_the_setting(order_factory, doku_api, doku_settings):
    doku_settings(SITE_URL=None)
    with pytest.raises(DokuConfigurationError, match=r"DOKU_CHECKOUT\['SITE_URL'\]"):
        services.create_payment_link(order_factory())
    assert not doku_api.calls


def test_live_session_is_reused_instead_of_creating_another(order_factory, doku_api, django_assert_num_queries):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    first = services.create_payment_link(order)
    second = services.create_payment_link(order)
    assert first.pk == second.pk
    assert len(doku_api.calls) == 1
    assert order.checkout_sessions.count() == 1


def test_expired_session_is_replaced_with_a_new_invoice_suffix(order_factory, doku_api):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    first = services.create_payment_link(order)
    CheckoutSession.objects.filter(pk=first.pk).update(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    second = services.create_payment_link(order)
    assert second.pk != first.pk
    assert second.invoice_number == f"{order.invoice_number}-2"
    assert sent_body(doku_api, 1)["order"]["invoice_number"] == f"{order.invoice_number}-2"


def test_an_order_named_like_another_orders_attempt_gets_the_next_free_number(order_factory, doku_api):
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    first = order_factory(invoice_number="SO-9")
    expired = services.create_payment_link(first)
    CheckoutSession.objects.filter(pk=expired.pk).update(expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    assert services.create_payment_link(first).invoice_number == "SO-9-2"
    later = order_factory(invoice_number="SO-9-2")  # its own number is already an attempt of SO-9's

    link = services.create_payment_link(later)

    assert link.invoice_number == "SO-9-2-2"
    assert sent_body(doku_api, 2)["order"]["invoice_number"] == "SO-9-2-2"
    assert len(doku_api.calls) == 3


def test_a_new_link_asks_the_database_only_what_it_must(order_factory, doku_api, django_assert_num_queries):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    # Claim: savepoint, lock, the order's links, line items, insert, release. Record:
    # savepoint, lock, the link as it is now, the unit of work (on PostgreSQL one statement:
    # the link, the order, its event; elsewhere three saves), release.
    with django_assert_num_queries(11 if connection.vendor == "postgresql" else 13):
        services.create_payment_link(order)


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.REFUNDED])
def test_unpayable_orders_never_get_a_link(order_factory, doku_api, status):
    order = order_factory(status=status)
    with pytest.raises(services.OrderNotPayable):
        services.create_payment_link(order)
    assert not doku_api.calls


def test_invalid_order_is_refused_before_sending(order_factory, doku_api):
    order = order_factory(items=[("Kopi", 10_000, 1)], amount=12_000)
    with pytest.raises(DokuValidationError, match="line_items total .* is 10000 but order.amount is 12000"):
        services.create_payment_link(order)
    assert not doku_api.calls
    assert not order.checkout_sessions.exists()


def test_doku_rejection_is_recorded_and_order_stays_payable(order_factory, doku_api):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, status=400, json={"error_messages": ["order.amount must greater than 0"]})
    with pytest.raises(DokuAPIError):
        services.create_payment_link(order)
    session = order.checkout_sessions.get()
    assert session.status == CheckoutSession.Status.ERROR
    assert "order.amount must greater than 0" in session.error_message
    order.refresh_from_db()
    assert order.status == OrderStatus.CREATED

    doku_api.replace("POST", CHECKOUT_URL, json=checkout_success())
    retry = services.create_payment_link(order)
    assert retry.invoice_number == f"{order.invoice_number}-2"
    assert services.live_link(order) == retry  # the retry is the link a shopper pays on


def test_transport_failure_is_recorded(order_factory, doku_api):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, body=requests.ConnectTimeout())
    with pytest.raises(DokuTransportError):
        services.create_payment_link(order)
    assert order.checkout_sessions.get().status == CheckoutSession.Status.ERROR


def test_answer_without_payment_url_is_an_error(order_factory, doku_api):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, json={"message": ["SUCCESS"], "response": {"payment": {}}})
    with pytest.raises(DokuAPIError, match=r"no response.payment.url"):
        services.create_payment_link(order)


def test_stored_payloads_are_redacted(order_factory, doku_api):
    order = order_factory()
    answer = checkout_success()
    answer["response"]["headers"] = {"signature": "HMACSHA256=abc", "request_id": "r"}
    doku_api.post(CHECKOUT_URL, json=answer)
    session = services.create_payment_link(order)
    assert session.response_body["response"]["headers"]["signature"] == REDACTED


def status_body(invoice, transaction_status, amount, **order_extra):
    return {
        "order": {"invoice_number": invoice, "amount": amount, **order_extra},
        "transaction": {"status": transaction_status, "date": "2026-01-01T00:00:00Z"},
        "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
    }


@pytest.fixture
def pending_order(order_factory, doku_api):
    order = order_factory()
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    services.create_payment_link(order)
    return order


def test_check_status_success_pays_the_order_and_signals_once(
    pending_order, doku_api, django_capture_on_commit_callbacks
):
    received = []
    payment_succeeded.connect(lambda **kw: received.append(kw["order"].status), weak=False, dispatch_uid="t1")
    changes = []
    order_status_changed.connect(
        lambda **kw: changes.append((kw["old_status"], kw["new_status"])), weak=False, dispatch_uid="t2"
    )
    try:
        doku_api.get(
            f"{SANDBOX}/orders/v1/status/{pending_order.invoice_number}",
            json=status_body(pending_order.invoice_number, "SUCCESS", 240000.0),
        )
        with django_capture_on_commit_callbacks(execute=True):
            result = services.check_status(pending_order)
            again = services.check_status(pending_order)
    finally:
        payment_succeeded.disconnect(dispatch_uid="t1")
        order_status_changed.disconnect(dispatch_uid="t2")
    assert result.order.status == OrderStatus.PAID
    assert result.transaction_status == "SUCCESS"
    assert again.outcome == "duplicate"
    assert received == ["paid"]
    assert changes == [("pending", "paid")]
    event = result.order.events.last()
    assert (event.old_status, event.new_status, event.source) == ("pending", "paid", "status_check")
    session = result.order.checkout_sessions.get()
    assert session.status == CheckoutSession.Status.PAID
    assert session.payment_channel == "VIRTUAL_ACCOUNT_BCA"


def test_check_status_wrong_amount_flags_instead_of_paying(pending_order, doku_api):
    doku_api.get(
        f"{SANDBOX}/orders/v1/status/{pending_order.invoice_number}",
        json=status_body(pending_order.invoice_number, "SUCCESS", 1000),
    )
    result = services.check_status(pending_order)
    assert result.outcome == "flagged"
    assert result.order.status == OrderStatus.PENDING
    assert result.order.needs_review
    assert "not marked paid" in result.order.review_reason


def test_check_status_pending_and_not_found_change_nothing(pending_order, doku_api):
    url = f"{SANDBOX}/orders/v1/status/{pending_order.invoice_number}"
    doku_api.get(url, json=status_body(pending_order.invoice_number, "PENDING", 240000, status="ORDER_GENERATED"))
    assert services.check_status(pending_order).order.status == OrderStatus.PENDING
    doku_api.replace("GET", url, status=404, json={"message": ["Not Found"]})
    result = services.check_status(pending_order)
    assert result.transaction_status == "NOT_FOUND"
    assert result.order.status == OrderStatus.PENDING


def test_check_status_order_expired(pending_order, doku_api):
    doku_api.get(
        f"{SANDBOX}/orders/v1/status/{pending_order.invoice_number}",
        json=status_body(pending_order.invoice_number, "PENDING", 240000, status="ORDER_EXPIRED"),
    )
    assert services.check_status(pending_order).order.status == OrderStatus.EXPIRED


def test_check_status_failed_keeps_order_payable(pending_order, doku_api):
    doku_api.get(
        f"{SANDBOX}/orders/v1/status/{pending_order.invoice_number}",
        json=status_body(pending_order.invoice_number, "FAILED", 240000),
    )
    result = services.check_status(pending_order)
    assert result.order.status == OrderStatus.PENDING
    assert result.order.checkout_sessions.get().last_transaction_status == "FAILED"


def test_check_status_without_a_link_asks_nothing(order_factory, doku_api):
    result = services.check_status(order_factory())
    assert result.transaction_status == "NO_PAYMENT_LINK"
    assert not doku_api.calls


def test_check_status_answer_for_another_invoice_is_refused(pending_order, doku_api):
    doku_api.get(
        f"{SANDBOX}/orders/v1/status/{pending_order.invoice_number}",
        json=status_body("SOMEONE-ELSE", "SUCCESS", 240000),
    )
    with pytest.raises(DokuAPIError, match="no matching order.invoice_number"):
        services.check_status(pending_order)
    pending_order.refresh_from_db()
    assert pending_order.status == OrderStatus.PENDING


def test_card_payment_page_needs_the_customer_fields_dokus_guide_asks(order_factory, doku_simulator):
    order = order_factory()
    with pytest.raises(DokuValidationError) as raised:
        services.create_card_payment_page(order)
    assert "customer.address must be filled" in raised.value.errors
    assert "customer.country must be filled" in raised.value.errors
    # customer.id only matters for tokenization, which this app does not use.
    assert "customer.id must be filled" not in raised.value.errors
    assert not order.checkout_sessions.exists()


def test_card_payment_page_is_created_at_the_simulator(order_factory, doku_simulator):
    order = order_factory(customer_id="C-1", customer_address="Jl. Sudirman 1", customer_country="ID")
    session = services.create_card_payment_page(order)
    assert session.kind == CheckoutSession.Kind.CARD_PAGE
    assert session.payment_url.startswith("http://testserver/doku-simulator/pay/")
    assert session.request_body["override_configuration"]["themes"]["language"] == "EN"
    assert order.status == OrderStatus.PENDING
    assert doku_simulator.session_for(order).kind == "card_page"


def test_generated_invoice_numbers_and_their_attempts_have_no_symbols(order_factory, doku_api):
    from django_doku_checkout.payloads import has_symbols

    generated = new_invoice_number()
    assert not has_symbols(generated)
    assert len(generated) <= 30
    order = order_factory(invoice_number=generated)
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    services.create_payment_link(order)
    order.checkout_sessions.update(status="expired")
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    second = services.create_payment_link(order)
    assert second.invoice_number == f"{generated}R2"
    assert not has_symbols(second.invoice_number)


def test_doku_wallet_notifications_come_to_this_app_when_doku_wallet_may_be_offered(
    order_factory, doku_api, doku_settings
):
    doku_api.post(CHECKOUT_URL, json=checkout_success())
    services.create_payment_link(order_factory())  # every channel offered: DOKU Wallet too
    services.create_payment_link(order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA"]))
    doku_settings(DOKU_WALLET_NOTIFY_URL="https://hooks.example.com/doku-wallet/")
    services.create_payment_link(order_factory())

    sent = [sent_body(doku_api, index).get("additional_info", {}) for index in range(3)]
    assert sent[0]["doku_wallet_notify_url"] == "https://shop.example.com/doku/notification/"
    assert "doku_wallet_notify_url" not in sent[1]
    assert sent[2]["doku_wallet_notify_url"] == "https://hooks.example.com/doku-wallet/"


def test_create_order_refuses_what_doku_would_refuse_naming_every_field(db):
    from django_doku_checkout.models import Order
    from django_doku_checkout.payloads import LineItemData

    with pytest.raises(DokuValidationError) as raised:
        services.create_order(
            line_items=[
                LineItemData(name="", price=10_000, quantity=1),
                LineItemData(name="x" * 300, price=5, quantity=1),
            ],
            customer_email="not-an-email",
            customer_phone="12",
        )
    assert raised.value.errors == [
        "customer.email must be an email address",
        "customer.phone must be digits with the country calling code, e.g. 6281122334455 (at most 16)",
        "order.line_items[0].name must be filled",
        "order.line_items[1].name must be at most 255 characters",
    ]
    assert not Order.objects.exists()


def test_the_same_rules_are_validators_a_checkout_form_can_use():
    from django import forms

    from django_doku_checkout.validators import validate_customer_email, validate_customer_phone, validate_item_name

    class CheckoutForm(forms.Form):
        email = forms.CharField(validators=[validate_customer_email])
        phone = forms.CharField(validators=[validate_customer_phone])
        gift = forms.CharField(required=False, validators=[validate_item_name])

    bad = CheckoutForm({"email": "siti@", "phone": "12", "gift": "y" * 256})
    assert not bad.is_valid()
    assert bad.errors["email"] == ["customer.email must be an email address"]
    assert "customer.phone" in bad.errors["phone"][0]
    assert bad.errors["gift"] == ["line item.name must be at most 255 characters"]
    assert CheckoutForm({"email": "siti@example.com", "phone": "+62 (0)812 3456 7890"}).is_valid()
