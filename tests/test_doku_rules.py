"""Issue 25, items 4-10: abandoned-cart recovery, the expired notification, a status answer after a
partial refund, the override notification URL, card page invoice numbers and split rules.

Against the simulator over HTTP where the path is HTTP, and against DOKU's documented shapes
(``tests/doku_traffic/``) at DOKU's HTTP edge.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.exceptions import DokuAPIError, DokuValidationError
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderStatus
from django_doku_checkout.payloads import LineItemData
from django_doku_checkout.services.cancellations import links_payable_at_doku
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.store import STORE
from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY
from tests.doku import CLIENT_ID as TESTS_CLIENT_ID
from tests.doku import SANDBOX
from tests.test_views import signed_post

TRAFFIC = Path(__file__).parent / "doku_traffic"
ITEMS = [LineItemData(name="Kopi Toraja 250g", price=60_000, quantity=2)]


def traffic(name: str) -> bytes:
    return (TRAFFIC / name).read_bytes().strip()


def recoverable_order(**fields: Any) -> Order:
    return services.create_order(line_items=ITEMS, recover_abandoned_cart=True, expired_recovered_cart=120, **fields)


def shopper_pays_on_the_page(link: CheckoutSession, method: str = "VIRTUAL_ACCOUNT_BCA") -> str:
    """The shopper opens DOKU's page and pays, over HTTP."""
    shopper = requests.Session()
    page = shopper.get(link.payment_url, timeout=5).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    form = {"method": method, "action": "pay", **({"csrfmiddlewaretoken": token.group(1)} if token else {})}
    return shopper.post(link.payment_url, data=form, timeout=10).text


# --- item 4: abandoned-cart recovery --------------------------------------------------------------


def test_the_links_recoverable_window_is_stored(live_doku):
    order = recoverable_order()
    link = services.create_payment_link(order)
    link.refresh_from_db()
    assert link.expires_at is not None
    assert link.recoverable_until == link.expires_at + timedelta(minutes=120)
    plain = services.create_payment_link(services.create_order(line_items=ITEMS))
    plain.refresh_from_db()
    assert plain.recoverable_until is None


def test_a_payment_in_the_recovery_window_pays_the_expired_order(live_doku):
    order = recoverable_order()
    link = services.create_payment_link(order)
    session = STORE.find(TESTS_CLIENT_ID, link.invoice_number)
    actions.settle(session, "expire")
    assert STORE.wait_until_idle(10)
    assert services.check_status(order).order.status == OrderStatus.EXPIRED

    shopper_pays_on_the_page(link)  # DOKU's recovery: the expired order is still payable
    assert STORE.wait_until_idle(10)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not order.needs_review
    answer = DokuClient().get_status(link.invoice_number).data
    assert (answer["order"]["status"], answer["transaction"]["status"]) == ("ORDER_RECOVERED", "SUCCESS")


def test_after_the_recovery_window_the_link_is_closed(live_doku):
    order = recoverable_order()
    link = services.create_payment_link(order)
    session = STORE.find(TESTS_CLIENT_ID, link.invoice_number)
    session.expires_at = timezone.now() - timedelta(minutes=121)
    assert session.is_expired()
    assert DokuClient().get_status(link.invoice_number).data["order"]["status"] == "ORDER_EXPIRED"
    shopper_pays_on_the_page(link)
    assert STORE.wait_until_idle(10)
    assert session.status == "EXPIRED"
    order.refresh_from_db()
    assert order.status != OrderStatus.PAID


def test_a_recoverable_link_is_cancelled_at_doku_and_reported_still_payable(live_doku, doku_settings):
    doku_settings(CANCEL_AT_DOKU=True)
    order = recoverable_order()
    link = services.create_payment_link(order)
    STORE.find(TESTS_CLIENT_ID, link.invoice_number).channel = "VIRTUAL_ACCOUNT_BCA"
    actions.settle(STORE.find(TESTS_CLIENT_ID, link.invoice_number), "expire")
    assert STORE.wait_until_idle(10)
    services.check_status(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED

    services.cancel_order(order)

    link.refresh_from_db()
    asked = [r for r in STORE.received if r.target == "/checkout/v3/cancellations"]
    assert len(asked) == 1  # DOKU is asked about the recoverable link
    # DOKU cannot cancel an expired order: the refusal is recorded, and the link reported.
    assert link.doku_cancel_error
    assert links_payable_at_doku(order) == [link]


def test_order_recovered_from_the_status_api_reopens_the_expired_order(order_factory, doku_api):
    body = traffic("status_order_recovered.json")
    order = order_factory(invoice_number="INV-RECOVERED-1", items=[("Barang", 120_000, 1)])
    link = order.checkout_sessions.create(
        invoice_number="INV-RECOVERED-1",
        request_id="76392",
        payment_url="https://staging.doku.com/checkout-link-v2/x",
        status=CheckoutSession.Status.EXPIRED,
        expires_at=timezone.now() - timedelta(minutes=5),
        recoverable_until=timezone.now() + timedelta(hours=1),
    )
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.EXPIRED)
    doku_api.get(f"{SANDBOX}/orders/v1/status/INV-RECOVERED-1", body=body, content_type="application/json")

    check = services.check_status(order)

    assert check.order.status == OrderStatus.PENDING
    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.OPEN


# --- item 10: the expired notification ------------------------------------------------------------


def test_dokus_expired_notification_is_stored_answered_and_expires_the_link(order_factory, doku_simulator):
    body = traffic("notification_checkout_expired.json")
    order = order_factory(invoice_number="INV-EXPIRED-1", items=[("Barang", 120_000, 1)])
    order.checkout_sessions.create(
        invoice_number="INV-EXPIRED-1",
        request_id="76393",
        payment_url="https://staging.doku.com/checkout-link-v2/x",
        expires_at=timezone.now(),
    )
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PENDING)

    response = signed_post(body, secret=SECRET_KEY, client_id=CLIENT_ID)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert order.checkout_sessions.get().status == CheckoutSession.Status.EXPIRED
    stored = Notification.objects.get()
    assert (stored.body.encode(), stored.transaction_status) == (body, "EXPIRED")


def test_the_simulator_sends_the_expired_notification(doku_simulator, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    doku_simulator.expire(order)
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    notification = Notification.objects.get()
    data = json.loads(notification.body)
    assert (data["transaction"]["status"], data["order"]["status"]) == ("EXPIRED", "ORDER_EXPIRED")


# --- item 9: the reduced amount after a partial refund --------------------------------------------


def test_success_with_the_amount_less_refunds_is_not_a_mismatch(doku_simulator, order_factory):
    order = order_factory(items=[("Barang", 100_000, 1)])
    doku_simulator.pay(order, "CREDIT_CARD")
    doku_simulator.settle(order)
    services.refund_payment(order, amount=30_000)
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED

    assert doku_simulator.notify(order, "SUCCESS", amount=70_000) == 200
    order.refresh_from_db()
    assert not order.needs_review
    assert Notification.objects.order_by("id").last().outcome == Notification.Outcome.DUPLICATE

    doku_simulator.notify(order, "SUCCESS", amount=60_000)  # neither paid nor paid less refunded
    order.refresh_from_db()
    assert order.needs_review


def test_a_status_answer_with_the_reduced_amount_leaves_the_order_alone(order_factory, doku_api):
    order = order_factory(invoice_number="INV-REDUCED-1", items=[("Barang", 100_000, 1)])
    link = order.checkout_sessions.create(
        invoice_number="INV-REDUCED-1",
        request_id="76394",
        payment_url="https://staging.doku.com/checkout-link-v2/x",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    from django_doku_checkout.services.settlement import apply_payment_result, parse_payment_result

    paid = json.loads(traffic("status_success_after_partial_refund.json"))
    paid["order"]["amount"] = 100_000
    apply_payment_result(link, parse_payment_result(paid), source="status_check")
    services.record_manual_refund(order, amount=30_000, reference="REF-1")
    doku_api.get(
        f"{SANDBOX}/orders/v1/status/INV-REDUCED-1",
        body=traffic("status_success_after_partial_refund.json"),
        content_type="application/json",
    )
    for _ in range(2):  # every check, not only the first
        services.check_status(order)
        order.refresh_from_db()
        assert not order.needs_review
        assert order.status == OrderStatus.PARTIALLY_REFUNDED


# --- item 7: the override notification URL's path ------------------------------------------------


def override_hook(order: Order, body: dict[str, Any]) -> dict[str, Any]:
    body.setdefault("additional_info", {})["override_notification_url"] = OVERRIDE["url"]
    return body


OVERRIDE: dict[str, str] = {}


def test_the_override_notification_url_must_keep_the_configured_path(live_doku, doku_settings):
    doku_settings(CHECKOUT_BODY_HOOK="tests.test_doku_rules.override_hook")
    OVERRIDE["url"] = "https://branch.example.com/somewhere/else/"
    with pytest.raises(DokuValidationError) as refused:
        services.create_payment_link(services.create_order(line_items=ITEMS))
    assert "additional_info.override_notification_url" in str(refused.value)
    assert "/doku/notification/" in str(refused.value)

    OVERRIDE["url"] = "https://branch.example.com/doku/notification/"  # another domain, the same path
    assert services.create_payment_link(services.create_order(line_items=ITEMS)).payment_url


def test_the_simulator_refuses_an_override_with_another_path(live_doku):
    order = services.create_order(line_items=ITEMS)
    from django_doku_checkout.services.link_requests import checkout_body

    body = checkout_body(order, "INV-OVERRIDE-1", None)
    body.setdefault("additional_info", {})["override_notification_url"] = "https://elsewhere.example.com/hook/"
    with pytest.raises(DokuAPIError) as refused:
        DokuClient().create_checkout_payment(body)
    assert "override_notification_url" in str(refused.value)


# --- item 8: card payment page invoice numbers ---------------------------------------------------


CARD_CUSTOMER = {
    "customer_name": "Budi",
    "customer_email": "budi@example.com",
    "customer_phone": "081234567890",
    "customer_address": "Jl. Sudirman 1",
    "customer_country": "ID",
}


def test_card_page_invoice_numbers_keep_to_mandiris_27(live_doku):
    order = services.create_order(line_items=ITEMS, invoice_number="C" * 28, **CARD_CUSTOMER)
    with pytest.raises(DokuValidationError, match="order.invoice_number must be at most 27 characters"):
        services.create_card_payment_page(order)
    fits = services.create_order(line_items=ITEMS, invoice_number="C" * 27, **CARD_CUSTOMER)
    assert services.create_card_payment_page(fits).payment_url


# --- item 6: split rules ------------------------------------------------------------------------


def test_a_split_rule_goes_beside_the_sub_account(live_doku, doku_settings):
    doku_settings(SUB_ACCOUNT_ID="SAC-MAIN-1", SUB_ACCOUNT_SPLIT_RULE_ID="SR-MAIN")
    services.create_payment_link(services.create_order(line_items=ITEMS))
    services.create_payment_link(
        services.create_order(line_items=ITEMS, sub_account_id="SAC-BRANCH-7", split_rule_id="SR-BRANCH")
    )
    sent = [json.loads(r.body) for r in STORE.received if r.target == "/checkout/v1/payment"]
    assert [body["additional_info"]["account"] for body in sent] == [
        {"id": "SAC-MAIN-1", "split_rule_id": "SR-MAIN"},
        {"id": "SAC-BRANCH-7", "split_rule_id": "SR-BRANCH"},
    ]


def test_reconciliation_finds_a_payment_made_in_the_recovery_window(doku_simulator):
    from django_doku_checkout.reconciliation import reconcile

    order = recoverable_order()
    link = services.create_payment_link(order)
    doku_simulator.expire(order)
    assert order.status == OrderStatus.EXPIRED
    session = doku_simulator.session_for(order)
    doku_simulator.set_faults(drop_notifications=True)  # the recovered payment's notification is lost
    actions.settle(session, "pay", "VIRTUAL_ACCOUNT_BCA")
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    [line] = reconcile().orders

    assert (line.invoice_number, line.new_status) == (order.invoice_number, OrderStatus.PAID)
    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.PAID
    assert not reconcile(min_age=timedelta(0)).orders  # a paid order is not asked again
