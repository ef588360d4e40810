"""The JSON endpoints for SPA and mobile shops: doku_checkout:api_pay and doku_checkout:api_status."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, timedelta

import django
import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.exceptions import DokuTransportError
from django_doku_checkout.models import CheckoutSession, OrderStatus
from tests.doku import CLIENT_ID, SANDBOX, SECRET
from tests.pages import csrf


def api_pay(client, order, **headers):
    return client.post(reverse("doku_checkout:api_pay", args=[order.public_id]), headers=headers)


def api_status(client, order):
    return client.get(reverse("doku_checkout:api_status", args=[order.public_id]))


@pytest.fixture
def sandbox(doku_settings, doku_api):
    """DOKU's sandbox at the HTTP edge (``responses``), with no retries."""
    doku_settings(
        CLIENT_ID=CLIENT_ID, SECRET_KEY=SECRET, ENVIRONMENT="sandbox", API_BASE_URL=None, MAX_RETRIES=0, RETRY_BACKOFF=0
    )
    return doku_api


# --- api_pay ------------------------------------------------------------------------------------------


def test_api_pay_answers_the_link_and_reuses_it(doku_simulator, order_factory, client):
    order = order_factory()
    first = api_pay(client, order)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    data = first.json()
    session = order.checkout_sessions.get()
    assert data == {
        "status": "pending",
        "payment_url": session.payment_url,
        "expires_at": session.expires_at.astimezone(UTC).isoformat(),
        "invoice_number": session.invoice_number,
    }
    assert api_pay(client, order).json() == data  # the live link again, not a second one
    assert order.checkout_sessions.count() == 1


def test_api_pay_from_a_browser_needs_djangos_csrf_header(doku_simulator, order_factory):
    order = order_factory()
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(reverse("doku_checkout:result", args=[order.public_id]))  # sets the csrftoken cookie
    refused = api_pay(browser, order)
    assert refused.status_code == 403
    assert "X-CSRFToken" in refused.json()["error"]
    assert not order.checkout_sessions.exists()
    accepted = api_pay(browser, order, **{"X-CSRFToken": csrf(page.content.decode())})
    assert accepted.status_code == 200
    assert accepted.json()["payment_url"]


def test_api_pay_from_a_mobile_app_needs_only_the_public_id(doku_simulator, order_factory):
    order = order_factory()
    response = api_pay(Client(enforce_csrf_checks=True), order)  # no cookies: nothing to forge
    assert response.status_code == 200
    assert response.json()["status"] == "pending"


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.REFUNDED])
def test_api_pay_for_an_unpayable_order_is_409(doku_simulator, order_factory, client, status):
    order = order_factory(status=status)
    response = api_pay(client, order)
    assert response.status_code == 409
    assert response.json() == {
        "error": f"Order {order.invoice_number} is {order.get_status_display().lower()}.",
        "status": status,
    }
    assert not order.checkout_sessions.exists()


def test_api_pay_errors_match_the_pay_view(doku_simulator, order_factory, client):
    order = order_factory(items=[("Kopi", 10_000, 1)], amount=99_000)  # items do not add up
    response = api_pay(client, order)
    page = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
    assert response.status_code == page.status_code == 400
    assert response.json()["error"] == "This order cannot be paid online. Please contact the shop."
    assert response.json()["error"].encode() in page.content


def test_api_pay_when_doku_refuses_is_502(sandbox, order_factory, client):
    sandbox.add("POST", SANDBOX + "/checkout/v1/payment", json={"message": ["Invalid Client-Id"]}, status=401)
    order = order_factory()
    response = api_pay(client, order)
    assert response.status_code == 502
    assert response.json() == {
        "error": "The payment service refused the request. Please try again.",
        "status": "created",
    }


def test_api_pay_never_hands_out_a_link_to_another_host(doku_simulator, order_factory, client):
    order = order_factory()
    services.create_payment_link(order)
    order.checkout_sessions.update(payment_url="https://evil.example/phish")
    response = api_pay(client, order)
    assert response.status_code == 502
    assert response.json()["error"] == "The payment service answered with an unexpected address."
    assert "evil.example" not in response.content.decode()


def test_api_pay_unknown_order_and_wrong_method(client, db):
    missing = client.post(reverse("doku_checkout:api_pay", args=[uuid.uuid4()]))
    assert missing.status_code == 404
    assert missing.json() == {"error": "No such order."}
    wrong = client.get(reverse("doku_checkout:api_pay", args=[uuid.uuid4()]))
    assert wrong.status_code == 405
    assert wrong["Allow"] == "POST"
    assert wrong.json() == {"error": "Use POST."}
    assert client.post(reverse("doku_checkout:api_status", args=[uuid.uuid4()])).status_code == 405


def test_repeated_requests_while_doku_is_down_add_one_error_row(sandbox, order_factory, client, doku_settings):
    """Unauthenticated clients cannot grow the links table while DOKU fails: one attempt per interval."""
    doku_settings(FAILED_LINK_RETRY_AFTER=30)
    sandbox.add("POST", SANDBOX + "/checkout/v1/payment", body=requests.ConnectionError("refused"))
    order = order_factory()
    pay = reverse("doku_checkout:pay", args=[order.public_id])
    answers = [api_pay(client, order) for _ in range(10)] + [client.post(pay) for _ in range(10)]
    # The real failure is a 503; the throttled repeats are 429 Too Many Requests, same message.
    assert [answer.status_code for answer in answers] == [503] + [429] * 19
    assert {answer.json()["error"] for answer in answers[:10]} == {
        "The payment service is not answering. Please try again."
    }
    assert all(b"The payment service is not answering" in answer.content for answer in answers[10:])
    assert all(1 <= int(answer["Retry-After"]) <= 30 for answer in answers[1:])
    assert len(sandbox.calls) == 1
    assert list(order.checkout_sessions.values_list("status", flat=True)) == [CheckoutSession.Status.ERROR]
    # Once the interval has passed, the next request asks DOKU again.
    order.checkout_sessions.update(updated_at=timezone.now() - timedelta(seconds=31))
    assert api_pay(client, order).status_code == 503
    assert order.checkout_sessions.count() == 2
    assert len(sandbox.calls) == 2


def test_a_refused_attempt_is_answered_as_refused_while_throttled(sandbox, order_factory, client, doku_settings):
    doku_settings(FAILED_LINK_RETRY_AFTER=30)
    sandbox.add("POST", SANDBOX + "/checkout/v1/payment", json={"message": ["Invalid Client-Id"]}, status=401)
    order = order_factory()
    answers = [api_pay(client, order) for _ in range(3)]
    assert [answer.status_code for answer in answers] == [502, 429, 429]
    assert {answer.json()["error"] for answer in answers} == {
        "The payment service refused the request. Please try again."
    }
    assert order.checkout_sessions.count() == 1


def test_an_outage_mails_the_admins_once_not_per_request(
    sandbox, order_factory, client, doku_settings, settings, mailoutbox
):
    """Django's default logging mails ADMINS each 5xx: throttled repeats must not be 5xx (F1).

    Anyone holding a public_id could otherwise flood the admins' inbox while DOKU is down.
    """
    settings.DEBUG = False
    # Django 6 takes addresses; 5.2 takes (name, address) pairs.
    settings.ADMINS = ["admin@shop.example"] if django.VERSION >= (6,) else [("Admin", "admin@shop.example")]
    doku_settings(FAILED_LINK_RETRY_AFTER=30)
    sandbox.add("POST", SANDBOX + "/checkout/v1/payment", body=requests.ConnectionError("refused"))
    order = order_factory()
    pay = reverse("doku_checkout:pay", args=[order.public_id])
    statuses = [api_pay(client, order).status_code for _ in range(10)] + [
        client.post(pay).status_code for _ in range(10)
    ]
    assert statuses == [503] + [429] * 19
    assert len(sandbox.calls) == 1
    assert [message.to for message in mailoutbox] == [["admin@shop.example"]]


def test_staff_are_not_throttled(sandbox, order_factory, doku_settings):
    """The throttle guards the shopper's views; a service call (the admin's) asks DOKU every time."""
    doku_settings(FAILED_LINK_RETRY_AFTER=30)
    sandbox.add("POST", SANDBOX + "/checkout/v1/payment", body=requests.ConnectionError("refused"))
    order = order_factory()
    for _ in range(2):
        with pytest.raises(DokuTransportError):
            services.create_payment_link(order)
    assert order.checkout_sessions.count() == 2


# --- api_status ------------------------------------------------------------------------------------------


def test_api_status_for_every_status(doku_simulator, order_factory, client):
    order = order_factory()
    assert api_status(client, order).json() == {
        "invoice_number": order.invoice_number,
        "status": "created",
        "status_display": "Created",
        "amount": 240_000,
        "amount_display": "Rp 240.000",
        "currency": "IDR",
        "attempt_failed": False,
        "payable": True,
    }
    services.create_payment_link(order)
    assert api_status(client, order).json()["status"] == "pending"
    doku_simulator.fail(order)
    failed = api_status(client, order).json()
    assert (failed["status"], failed["attempt_failed"], failed["payable"]) == ("pending", True, True)
    doku_simulator.pay(order)
    paid = api_status(client, order).json()
    assert (paid["status"], paid["status_display"], paid["attempt_failed"], paid["payable"]) == (
        "paid",
        "Paid",
        False,
        False,
    )
    for status, label in [("expired", "Expired"), ("cancelled", "Cancelled"), ("refunded", "Refunded")]:
        other = order_factory(status=status)
        data = api_status(client, other).json()
        assert (data["status"], data["status_display"], data["payable"]) == (status, label, status == "expired")
    assert client.get(reverse("doku_checkout:api_status", args=[uuid.uuid4()])).status_code == 404


def test_api_status_is_one_query_when_no_check_is_due(
    doku_simulator, order_factory, client, doku_settings, django_assert_num_queries
):
    doku_settings(STATUS_CHECK_INTERVAL=10, ENVIRONMENT="sandbox")  # the simulator still answers: API_BASE_URL
    order = order_factory()
    services.create_payment_link(order)  # a link younger than 60 s: DOKU is not asked yet
    with django_assert_num_queries(1):
        response = api_status(client, order)
    assert response.json()["status"] == "pending"
    assert response["Cache-Control"].startswith("max-age=0")


# --- over a live server, in autocommit ------------------------------------------------------------------


def test_headless_checkout_over_http(live_doku, order_factory):
    """A mobile app's journey: fetch the link, the shopper pays at DOKU, poll until paid."""
    order = order_factory()
    app = requests.Session()
    link = app.post(live_doku + reverse("doku_checkout:api_pay", args=[order.public_id]), timeout=30)
    assert link.status_code == 200, link.text
    assert re.match(live_doku + r"/doku-simulator/pay/", link.json()["payment_url"])
    status_url = live_doku + reverse("doku_checkout:api_status", args=[order.public_id])
    assert app.get(status_url, timeout=30).json()["status"] == "pending"
    page = app.get(link.json()["payment_url"], timeout=30)
    paid = app.post(
        link.json()["payment_url"],
        data={"csrfmiddlewaretoken": csrf(page.text), "method": "QRIS", "action": "pay"},
        headers={"Referer": page.url},
        allow_redirects=False,
        timeout=30,
    )
    assert paid.status_code == 302  # AUTO_REDIRECT: back to the shop
    for _ in range(100):
        state = app.get(status_url, timeout=30).json()
        if state["status"] == "paid":
            break
    assert state["status"] == "paid"
    assert state["payable"] is False
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
