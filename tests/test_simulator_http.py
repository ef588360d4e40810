"""The app and the simulator over real HTTP (a live server on 127.0.0.1)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC
from typing import Any

import pytest
import requests

from django_doku_checkout import services, signatures
from django_doku_checkout.client import DokuClient
from django_doku_checkout.exceptions import DokuAPIError, DokuTransportError
from django_doku_checkout.models import Notification, OrderStatus
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.simulator import notifier
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, SECRET
from tests.pages import press_pay, staff_session

pytestmark = pytest.mark.django_db(transaction=True)

TV1_BODY = b'{"order":{"amount":20000,"invoice_number":"INV-20210231-0001"},"payment":{"payment_due_date":60}}'
TV1_HEADERS = {
    "Client-Id": "MCH-0001-10791114622547",
    "Request-Id": "fdb69f47-96da-499d-acec-7cdc318ab2fe",
    "Request-Timestamp": "2020-08-11T08:45:42Z",
    "Signature": "HMACSHA256=UAD9+3F5eq361hLccByL7DlfbQg8S1wOFCXDBGQ6BSc=",
    "Content-Type": "application/json",
}


def set_faults(**values):
    STORE.set_faults(CLIENT_ID, Faults().updated(values))


# --- the simulator checks signatures on its own, against the reference vectors ------------------


def test_simulator_accepts_reference_vector_tv1_and_rejects_a_changed_byte(live_doku, settings):
    settings.DOKU_SIMULATOR = {**settings.DOKU_SIMULATOR, "MAX_CLOCK_SKEW": 10**10}
    url = live_doku + "/doku-simulator/checkout/v1/payment"
    accepted = requests.post(url, data=TV1_BODY, headers=TV1_HEADERS, timeout=5)
    assert accepted.status_code == 200
    assert accepted.json()["message"] == ["SUCCESS"]
    tampered = requests.post(url, data=TV1_BODY.replace(b"20000", b"20001"), headers=TV1_HEADERS, timeout=5)
    assert tampered.status_code == 401


def test_simulator_accepts_reference_vector_tv2_and_not_the_digest_variant(live_doku, settings):
    settings.DOKU_SIMULATOR = {**settings.DOKU_SIMULATOR, "MAX_CLOCK_SKEW": 10**10}
    url = live_doku + "/doku-simulator/orders/v1/status/INV-123123-12313"
    headers = {
        "Client-Id": "MCH-0001-10791114622547",
        "Request-Id": "d895fb53-479c-4f77-a76a-ab81b40d77cb",
        "Request-Timestamp": "2020-08-11T08:45:42Z",
        "Signature": "HMACSHA256=TSbI0Msyf6jvJ80uLfar1femVRtuCNw/nf5EU96eJ2A=",
    }
    assert requests.get(url, headers=headers, timeout=5).status_code == 404  # verified, unknown order
    wrong = {**headers, "Signature": "HMACSHA256=10cjtuZsfF3NYbWTUIZkVjncACdFgTRsp22QbPCBacg="}
    assert requests.get(url, headers=wrong, timeout=5).status_code == 401


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"Client-Id": "MCH-UNKNOWN"}, "invalid_client_id"),
        ({"Request-Timestamp": "2020-08-11T08:45:42Z"}, "invalid_timestamp"),
        ({"Signature": "HMACSHA256=AAAA"}, "invalid_signature"),
        ({"Signature": ""}, "invalid_signature"),
        ({"Request-Id": ""}, "invalid_request_id"),
    ],
)
def test_simulator_rejects_bad_requests_with_401(live_doku, change, code):
    body = encode_body({"order": {"amount": 10000, "invoice_number": "INV-401"}})
    client = DokuClient()
    headers = client.signed_headers(
        request_id="r-401", timestamp=signatures.format_timestamp(), target="/checkout/v1/payment", body=body
    )
    response = requests.post(
        live_doku + "/doku-simulator/checkout/v1/payment", data=body, headers={**headers, **change}, timeout=5
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_validation_errors_come_back_as_dokus_400(live_doku):
    with pytest.raises(DokuAPIError) as raised:
        DokuClient().create_checkout_payment({"order": {"invoice_number": "", "amount": 0}})
    assert raised.value.status_code == 400
    assert raised.value.messages == ["order.invoice_number must be filled", "order.amount must greater than 0"]


def test_same_request_id_and_body_is_replayed_with_409(live_doku):
    client = DokuClient()
    body = {"order": {"amount": 10000, "invoice_number": "INV-409"}, "payment": {"payment_due_date": 30}}
    first = client.create_checkout_payment(body, request_id="req-409")
    again = client.create_checkout_payment(body, request_id="req-409")
    assert (first.status_code, again.status_code) == (200, 409)
    assert again.replayed
    assert again.data == first.data
    with pytest.raises(DokuAPIError, match="already used with another body"):
        client.create_checkout_payment({**body, "payment": {"payment_due_date": 31}}, request_id="req-409")


# --- the whole journey --------------------------------------------------------------------------------


def test_pay_journey_over_http(live_doku, order_factory, signal_log):
    order = order_factory(payment_method_types=["VIRTUAL_ACCOUNT_BCA", "QRIS"])
    shopper = requests.Session()
    pay = press_pay(shopper, live_doku, order.public_id)
    assert pay.status_code == 302
    page = shopper.get(pay.headers["Location"], timeout=5)
    assert order.invoice_number in page.text
    assert "Rp 240.000" in page.text
    assert "Kopi Toraja 250g" in page.text
    assert "QRIS" in page.text
    assert "EMONEY_OVO" not in page.text
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    paid = shopper.post(
        pay.headers["Location"],
        data={"csrfmiddlewaretoken": csrf, "action": "pay", "method": "QRIS"},
        headers={"Referer": pay.headers["Location"]},
        allow_redirects=False,
        timeout=5,
    )
    assert paid.status_code == 302
    assert paid.headers["Location"] == f"{live_doku}/doku/return/{order.public_id}/"
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    back = shopper.get(paid.headers["Location"], timeout=5)
    assert "doku-order-status-paid" in back.text
    notification = Notification.objects.get()
    assert (notification.outcome, notification.signature_valid, notification.transaction_status) == (
        "processed",
        True,
        "SUCCESS",
    )
    assert '"service":{"id":"QRIS"}' in notification.body
    assert [s for s in signal_log if s[0] == "payment_succeeded"] == [("payment_succeeded", order.invoice_number, "")]


def test_fail_then_pay_with_another_method(live_doku, order_factory, signal_log):
    order = order_factory()
    session = services.create_payment_link(order)
    simulated = STORE.find(CLIENT_ID, session.invoice_number)
    from django_doku_checkout.simulator.actions import settle

    settle(simulated, "fail", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    settle(simulated, "pay", "VIRTUAL_ACCOUNT_BRI")
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    outcomes = list(Notification.objects.order_by("id").values_list("transaction_status", "outcome"))
    assert outcomes == [("FAILED", "ignored"), ("SUCCESS", "processed")]
    assert [s[0] for s in signal_log].count("payment_succeeded") == 1


def test_hosted_page_fail_and_expire_and_cancel(live_doku, order_factory):
    order = order_factory()
    session = services.create_payment_link(order)
    shopper = requests.Session()
    page = shopper.get(session.payment_url, timeout=5)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    form = {"csrfmiddlewaretoken": csrf, "method": "VIRTUAL_ACCOUNT_BCA"}
    failed = shopper.post(session.payment_url, data={**form, "action": "fail"}, timeout=5)
    assert STORE.wait_until_idle(10)  # the FAILED notification is in; SQLite takes one writer at a time
    assert "Payment failed" in failed.text
    assert "Try another payment method" in failed.text
    assert f"/doku/result/{order.public_id}/" in failed.text
    cancel = shopper.get(session.payment_url + "cancel/", allow_redirects=False, timeout=5)
    assert cancel.headers["Location"] == f"{live_doku}/doku/cancel/{order.public_id}/"
    expired = shopper.post(session.payment_url, data={**form, "action": "expire"}, timeout=5)
    assert "Payment expired" in expired.text
    assert services.check_status(order).order.status == OrderStatus.EXPIRED


def test_status_api_reports_pending_success_and_404(live_doku, order_factory):
    order = order_factory()
    session = services.create_payment_link(order)
    client = DokuClient()
    pending = client.get_status(session.invoice_number).data
    assert pending["transaction"]["status"] == "PENDING"
    assert pending["order"]["status"] == "ORDER_GENERATED"
    assert pending["channel"]["id"] is None
    by_request_id = client.get_status(session.request_id).data
    assert by_request_id["order"]["invoice_number"] == session.invoice_number
    with pytest.raises(DokuAPIError) as raised:
        client.get_status("INV-NOPE")
    assert raised.value.status_code == 404


# --- fault injection ----------------------------------------------------------------------------------


def test_latency_fault_slows_answers(live_doku, order_factory):
    set_faults(latency=0.3)
    started = time.monotonic()
    services.create_payment_link(order_factory())
    assert time.monotonic() - started >= 0.3


def test_5xx_fault_runs_out_of_retries_with_a_clear_error(live_doku, order_factory):
    set_faults(error_rate=1)
    order = order_factory()
    with pytest.raises(DokuAPIError, match="HTTP 503: service_unavailable: Simulated outage"):
        services.create_payment_link(order)
    assert order.checkout_sessions.get().status == "error"


def test_timeout_fault_then_retry_gets_the_original_with_409(live_doku, order_factory, settings):
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "TIMEOUT": (2, 0.5)}
    set_faults(timeout_rate=1, timeout_seconds=1)
    with pytest.raises(DokuTransportError, match="timed out after 3 attempt"):
        services.create_payment_link(order_factory())
    set_faults(timeout_rate=0)
    order = order_factory()
    client = DokuClient()
    body = {"order": {"amount": 10000, "invoice_number": "INV-TIMEOUT"}}
    set_faults(timeout_rate=1, timeout_seconds=1)
    with pytest.raises(DokuTransportError):
        client.create_checkout_payment(body, request_id="req-timeout")
    set_faults(timeout_rate=0)
    replay = client.create_checkout_payment(body, request_id="req-timeout")
    assert replay.replayed
    assert replay.status_code == 409
    assert order.status == OrderStatus.CREATED
    time.sleep(1.2)  # let the server threads still "timing out" finish before the database goes


def test_dropped_notification_is_recovered_by_a_status_check(live_doku, order_factory):
    set_faults(drop_notifications=True)
    order = order_factory()
    session = services.create_payment_link(order)
    from django_doku_checkout.simulator.actions import settle

    [sent] = settle(STORE.find(CLIENT_ID, session.invoice_number), "pay", "EMONEY_OVO")
    assert sent.dropped
    assert not Notification.objects.exists()
    assert services.check_status(order).order.status == OrderStatus.PAID


def test_duplicated_notifications_change_the_order_once(live_doku, order_factory, signal_log):
    set_faults(duplicate_notifications=True)
    order = order_factory()
    session = services.create_payment_link(order)
    from django_doku_checkout.simulator.actions import settle

    settle(STORE.find(CLIENT_ID, session.invoice_number), "pay", "ONLINE_TO_OFFLINE_ALFA")
    assert STORE.wait_until_idle(10)
    assert list(Notification.objects.order_by("id").values_list("outcome", flat=True)) == ["processed", "duplicate"]
    assert [s[0] for s in signal_log].count("payment_succeeded") == 1
    order.refresh_from_db()
    assert order.events.filter(new_status="paid").count() == 1


def test_out_of_order_failed_after_success_never_unpays(live_doku, order_factory):
    set_faults(out_of_order_notifications=True)
    order = order_factory()
    session = services.create_payment_link(order)
    from django_doku_checkout.simulator.actions import settle

    settle(STORE.find(CLIENT_ID, session.invoice_number), "pay", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    statuses = list(Notification.objects.order_by("id").values_list("transaction_status", "outcome"))
    assert statuses == [("SUCCESS", "processed"), ("FAILED", "ignored")]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_wrong_amount_is_flagged_not_paid(live_doku, order_factory, signal_log):
    set_faults(wrong_amount=True)
    order = order_factory()
    session = services.create_payment_link(order)
    from django_doku_checkout.simulator.actions import settle

    settle(STORE.find(CLIENT_ID, session.invoice_number), "pay", "VIRTUAL_ACCOUNT_BNI")
    assert STORE.wait_until_idle(10)
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert order.needs_review
    assert Notification.objects.get().outcome == "flagged"
    assert [s[0] for s in signal_log if s[0] == "payment_needs_review"] == ["payment_needs_review"]


def test_failed_deliveries_are_retried_and_recorded(live_doku, order_factory, settings, admin_user):
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "NOTIFICATION_PATH": "/wrong/path/"}
    order = order_factory()
    session = services.create_payment_link(order)
    from django_doku_checkout.simulator.actions import settle

    [sent] = settle(STORE.find(CLIENT_ID, session.invoice_number), "pay", "VIRTUAL_ACCOUNT_BCA")
    assert STORE.wait_until_idle(10)
    assert [attempt.status_code for attempt in sent.attempts] == [401, 401, 401]
    assert not sent.delivered
    assert Notification.objects.filter(outcome="rejected").count() == 3
    dashboard = staff_session(live_doku).get(live_doku + "/doku-simulator/", timeout=5)
    assert session.invoice_number in dashboard.text
    assert "gave up" in dashboard.text


def test_control_endpoint_sets_and_rejects_faults(live_doku, admin_user):
    staff = staff_session(live_doku)
    headers = {"X-CSRFToken": staff.cookies["csrftoken"], "Referer": live_doku + "/"}
    ok = staff.post(live_doku + "/doku-simulator/_control/faults/", json={"latency": 0.1}, headers=headers, timeout=5)
    assert ok.json()["faults"]["latency"] == 0.1
    bad = staff.post(live_doku + "/doku-simulator/_control/faults/", json={"lag": 1}, headers=headers, timeout=5)
    assert bad.status_code == 400
    assert "unknown fault 'lag'" in bad.json()["error_messages"][0]
    reset = staff.post(live_doku + "/doku-simulator/_control/reset/", headers=headers, timeout=5)
    assert reset.json() == {"reset": True}


def test_dashboard_and_control_are_for_staff_only(live_doku, order_factory):
    session = services.create_payment_link(order_factory())
    anonymous = requests.Session()
    dashboard = anonymous.get(live_doku + "/doku-simulator/", allow_redirects=False, timeout=5)
    assert dashboard.status_code == 302
    assert "/admin/login/" in dashboard.headers["Location"]
    for control in ("_control/faults/", "_control/reset/"):
        assert anonymous.post(live_doku + "/doku-simulator/" + control, json={}, timeout=5).status_code == 403
    assert STORE.find(CLIENT_ID, session.invoice_number) is not None  # nothing was reset
    # The hosted page stays open to shoppers.
    assert anonymous.get(session.payment_url, timeout=5).status_code == 200


def test_the_simulator_is_off_unless_enabled_or_debug(live_doku, order_factory, settings):
    settings.DOKU_SIMULATOR = {**settings.DOKU_SIMULATOR, "ENABLED": False}
    assert settings.DEBUG is False
    for path in ("", "checkout/v1/payment", "orders/v1/status/INV-1", "pay/any/", "_control/reset/"):
        assert requests.get(live_doku + "/doku-simulator/" + path, timeout=5).status_code == 404
    settings.DEBUG = True
    assert requests.get(live_doku + "/doku-simulator/orders/v1/status/INV-1", timeout=5).status_code == 401


def test_per_request_fault_header(live_doku):
    client = DokuClient()
    client.session.headers["X-Simulator-Faults"] = "error_rate=1"
    with pytest.raises(DokuAPIError) as raised:
        client.get_status("INV-ANY")
    assert raised.value.status_code == 503


def test_secret_is_not_on_any_simulator_page(live_doku, order_factory, admin_user):
    session = services.create_payment_link(order_factory())
    staff = staff_session(live_doku)
    for url in (live_doku + "/doku-simulator/", session.payment_url):
        assert SECRET not in staff.get(url, timeout=5).text


def _shape(value: Any) -> Any:
    """The keys of a JSON body, recursively: what a channel's notification looks like, not its values."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return None


def test_simulated_notifications_look_like_dokus_captured_ones(live_doku, order_factory):
    from pathlib import Path

    traffic = Path(__file__).parent / "doku_traffic"
    order = order_factory()
    session = STORE.find(CLIENT_ID, services.create_payment_link(order).invoice_number)
    session.channel = "VIRTUAL_ACCOUNT_BCA"
    simulated = _shape(notifier.notification_body(session, "SUCCESS"))
    body = json.loads((traffic / "notification_va_bca_checkout.json").read_text())
    body["additional_info"].pop("account")  # a sub account, only when the merchant settles to one
    assert simulated == _shape(body)

    session.channel = "CREDIT_CARD"
    card = notifier.notification_body(session, "SUCCESS")
    expected = json.loads((traffic / "notification_card_authorize.json").read_text())
    assert set(expected) - set(card) == {"verification"}  # DOKU's fraud screening, not simulated
    assert (card["acquirer"]["id"], card["channel"]["name"], card["transaction"]["type"]) == (
        "BANK_MANDIRI",
        "Credit Card",
        "SALE",
    )


def test_the_hosted_page_shows_rupiah_and_utc_times(live_doku, order_factory):
    session = services.create_payment_link(order_factory())
    page = requests.get(session.payment_url, timeout=5).text
    simulated = STORE.find(CLIENT_ID, session.invoice_number)
    # The test settings' TIME_ZONE is Asia/Jakarta: the label says UTC, so must the time.
    assert f"Expires {simulated.expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" in page
    assert "Rp 240.000" in page


def test_a_card_authorization_is_held_not_paid(live_doku, order_factory):
    order = order_factory(customer_id="C-1", customer_address="Jl. Sudirman 1", customer_country="ID")
    link = services.create_card_payment_page(order)
    from django_doku_checkout.simulator.actions import settle

    [sent] = settle(STORE.find(CLIENT_ID, link.invoice_number), "authorize", "CREDIT_CARD")
    assert STORE.wait_until_idle(10)
    assert sent.attempts[-1].status_code == 200
    body = json.loads(sent.body)
    assert (body["transaction"]["status"], body["transaction"]["type"]) == ("PENDING", "AUTHORIZE")
    order.refresh_from_db()
    link.refresh_from_db()
    assert (order.status, link.last_transaction_status) == (OrderStatus.PENDING, "PENDING")
    check = services.check_status(order)  # the Status API says the same
    assert (check.transaction_status, check.order.status) == ("PENDING", OrderStatus.PENDING)


def test_the_payment_page_groups_channels_by_kind_with_names_and_codes(live_doku, order_factory):
    order = order_factory()  # no channel chosen: the page offers every channel of the account
    shopper = requests.Session()
    page = shopper.get(press_pay(shopper, live_doku, order.public_id).headers["Location"], timeout=5).text

    legends = re.findall(r'<fieldset class="methods-group"[^>]*>\s*<legend>([^<]+)</legend>', page)
    assert legends == [
        "Virtual accounts",
        "Cards",
        "E-wallets",
        "QRIS",
        "Convenience stores",
        "Paylater",
        "Online banking and direct debit",
    ]
    group = re.search(r"<legend>Virtual accounts</legend>(.*?)</fieldset>", page, re.S).group(1)
    # The bank's name for a person, the code (the radio's value, and small text) for a test.
    assert re.search(
        r'value="VIRTUAL_ACCOUNT_BANK_MANDIRI"[^>]*>\s*Bank Mandiri\s*<small>VIRTUAL_ACCOUNT_BANK_MANDIRI</small>',
        group,
    )
    assert 'value="VIRTUAL_ACCOUNT_BCA"' in group
    assert "QRIS" not in group
    wallets = re.search(r"<legend>E-wallets</legend>(.*?)</fieldset>", page, re.S).group(1)
    assert re.search(r'value="EMONEY_OVO"[^>]*>\s*OVO\s*<small>EMONEY_OVO</small>', wallets)
    stores = re.search(r"<legend>Convenience stores</legend>(.*?)</fieldset>", page, re.S).group(1)
    assert "Alfamart" in stores
    assert "Indomaret" in stores
