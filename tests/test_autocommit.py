"""The app as production runs it: autocommit, over real HTTP, against a live server.

pytest-django's ``db`` fixture wraps every test in a transaction, so code that needs one
(``select_for_update``) passes there and fails in production. Here nothing is wrapped:
the live server (``transactional_db``) serves staff and shoppers over HTTP, the built-in
DOKU simulator answers on the same server, and every test checks the HTTP answer and
what was committed. Run it on SQLite and on PostgreSQL: only PostgreSQL enforces locks.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.urls import reverse

from django_doku_checkout import services, signatures
from django_doku_checkout.models import CheckoutSession, Notification, Order, OrderEvent, OrderStatus
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.simulator import notifier
from django_doku_checkout.simulator.actions import settle
from django_doku_checkout.simulator.faults import Faults
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID, SECRET
from tests.pages import change_form_data, staff_session

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 10
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


class Browser:
    """One visitor's ``requests.Session`` on the live server; every answer's status is checked.

    DEBUG is off, so a 500 shows only "Server Error"; the server's traceback, logged by
    ``django.request``, is put into the failure message instead.
    """

    def __init__(self, base: str, server_errors: list[str]) -> None:
        self.base = base
        self.http = requests.Session()
        self.server_errors = server_errors

    def url(self, path: str) -> str:
        return path if path.startswith("http") else self.base + path

    def get(self, path: str, *, expect: int = 200) -> requests.Response:
        return self._checked(self.http.get(self.url(path), allow_redirects=False, timeout=TIMEOUT), expect)

    def post(
        self, path: str, data: dict[str, Any] | None = None, *, expect: int | tuple[int, ...]
    ) -> requests.Response:
        """POST a form with the CSRF cookie's token, as the admin's and the shop's forms do.

        ``expect`` is the status, or the statuses where a race decides between them.
        """
        form = {"csrfmiddlewaretoken": self.http.cookies.get("csrftoken", ""), **(data or {})}
        response = self.http.post(self.url(path), data=form, allow_redirects=False, timeout=TIMEOUT)
        return self._checked(response, expect)

    def _checked(self, response: requests.Response, expect: int | tuple[int, ...]) -> requests.Response:
        if response.status_code not in (expect if isinstance(expect, tuple) else (expect,)):
            server = self.server_errors[-1] if self.server_errors else "(nothing logged by django.request)"
            raise AssertionError(
                f"{response.request.method} {response.url} answered {response.status_code}, expected {expect}.\n"
                f"Server side:\n{server}"
            )
        return response


@pytest.fixture
def server_errors() -> Iterator[list[str]]:
    """The live server's logged request errors, tracebacks included."""
    errors: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            errors.append(self.format(record))

    handler = Collect(logging.ERROR)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    yield errors
    logger.removeHandler(handler)


@pytest.fixture
def shopper(live_doku, server_errors) -> Iterator[Browser]:
    browser = Browser(live_doku, server_errors)
    yield browser
    browser.http.close()


@pytest.fixture
def staff(live_doku, admin_user, server_errors) -> Iterator[Browser]:
    """The superuser logged in through the admin's login form."""
    browser = Browser(live_doku, server_errors)
    browser.http = staff_session(live_doku, admin_user.username)
    yield browser
    browser.http.close()


def change_url(order: Order) -> str:
    return reverse("admin:django_doku_checkout_order_change", args=[order.pk])


def operation_url(order: Order, operation: str) -> str:
    return reverse("admin:django_doku_checkout_order_operation", args=[order.pk, operation])


def paid_quietly(order: Order) -> None:
    """The shopper paid at DOKU; DOKU's notification never arrives."""
    simulated = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    assert simulated is not None
    STORE.set_faults(CLIENT_ID, Faults(drop_notifications=True))
    settle(simulated, "pay", "VIRTUAL_ACCOUNT_BCA")
    STORE.set_faults(CLIENT_ID, Faults())


def signed_notification(order: Order, status: str = "SUCCESS") -> tuple[bytes, dict[str, str]]:
    """DOKU's notification for the order's link: the raw body and its signed headers."""
    simulated = STORE.find(CLIENT_ID, order.checkout_sessions.get().invoice_number)
    assert simulated is not None
    body = encode_body(notifier.notification_body(simulated, status))
    target = reverse("doku_checkout:notification")
    return body, signatures.signed_headers(SECRET, client_id=CLIENT_ID, target=target, body=body)


def admin_event(order: Order) -> OrderEvent:
    return order.events.get(source=OrderEvent.Source.ADMIN)


# --- the change page's buttons -------------------------------------------------------------------


def press(staff: Browser, order: Order, operation: str) -> str:
    """Press one button of the order's change page; returns the change page it leads back to."""
    assert f'action="{operation_url(order, operation)}"' in staff.get(change_url(order)).text
    response = staff.post(operation_url(order, operation), expect=302)
    assert response.headers["Location"] == change_url(order)
    return staff.get(change_url(order)).text


def test_create_link_button(staff, live_doku, order_factory):
    order = order_factory()

    page = press(staff, order, "create-link")

    session = order.checkout_sessions.get()
    assert session.kind == CheckoutSession.Kind.CHECKOUT
    assert session.status == CheckoutSession.Status.OPEN
    assert session.payment_url == live_doku + reverse("doku_simulator:page", args=[session.token_id])
    assert STORE.find(CLIENT_ID, session.invoice_number) is not None
    assert session.payment_url in page
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert admin_event(order).actor.username == "admin"


def test_card_page_button(staff, order_factory):
    order = order_factory(
        customer_id="CUST-1", customer_address="Jl. Sudirman 1", customer_country="ID", customer_phone="081234567890"
    )

    page = press(staff, order, "card-page")

    session = order.checkout_sessions.get()
    assert session.kind == CheckoutSession.Kind.CARD_PAGE
    assert session.payment_url in page
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    assert admin_event(order).new_status == OrderStatus.PENDING


def test_check_status_button(staff, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)

    page = press(staff, order, "check-status")

    assert "SUCCESS" in page
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_at
    assert order.events.get(new_status=OrderStatus.PAID).source == OrderEvent.Source.STATUS_CHECK
    assert order.checkout_sessions.get().status == CheckoutSession.Status.PAID


def test_cancel_button(staff, order_factory):
    order = order_factory()
    services.create_payment_link(order)

    press(staff, order, "cancel")

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.checkout_sessions.get().status == CheckoutSession.Status.CANCELLED
    event = order.events.get(new_status=OrderStatus.CANCELLED)
    assert (event.source, event.actor.username) == (OrderEvent.Source.ADMIN, "admin")


# --- the change form -----------------------------------------------------------------------------


def test_change_form_save(staff, order_factory):
    order = order_factory()
    link = services.create_payment_link(order)
    staff.get(change_url(order))

    data = change_form_data(order, customer_name="Budi Santoso", amount=390_000, **{"line_items-0-quantity": 2})
    response = staff.post(change_url(order), data, expect=302)

    assert response.headers["Location"] == reverse("admin:django_doku_checkout_order_changelist")
    order.refresh_from_db()
    assert (order.customer_name, order.amount, order.status) == ("Budi Santoso", 390_000, OrderStatus.PENDING)
    assert order.line_items.order_by("pk").first().quantity == 2
    link.refresh_from_db()
    assert link.status == CheckoutSession.Status.CANCELLED  # the amount changed: the old link is withdrawn


# --- the changelist's actions --------------------------------------------------------------------


def run_action(staff: Browser, action: str, orders: list[Order]) -> str:
    changelist = reverse("admin:django_doku_checkout_order_changelist")
    assert f'value="{action}"' in staff.get(changelist).text
    report = staff.post(changelist, {"action": action, "_selected_action": [o.pk for o in orders]}, expect=200)
    return report.text


def report_outcomes(html: str) -> dict[str, str]:
    """The action report's outcome per invoice number."""
    rows = re.findall(r'<tr class="doku-result doku-result-(\w+)" data-invoice="([^"]+)">', html)
    return {invoice: outcome for outcome, invoice in rows}


def test_create_payment_links_action(staff, order_factory):
    orders = [order_factory(), order_factory()]

    html = run_action(staff, "create_payment_links", orders)

    assert report_outcomes(html) == {order.invoice_number: "created" for order in orders}
    for order in orders:
        order.refresh_from_db()
        session = order.checkout_sessions.get()
        assert session.kind == CheckoutSession.Kind.CHECKOUT
        assert session.payment_url in html
        assert order.status == OrderStatus.PENDING
        assert admin_event(order).actor.username == "admin"


def test_create_card_payment_pages_action(staff, order_factory):
    complete = order_factory(
        customer_id="CUST-1", customer_address="Jl. Sudirman 1", customer_country="ID", customer_phone="081234567890"
    )
    incomplete = order_factory()  # no address: DOKU's card page requires one

    html = run_action(staff, "create_card_payment_pages", [complete, incomplete])

    assert report_outcomes(html) == {complete.invoice_number: "created", incomplete.invoice_number: "failed"}
    assert complete.checkout_sessions.get().kind == CheckoutSession.Kind.CARD_PAGE
    assert not incomplete.checkout_sessions.exists()
    complete.refresh_from_db()
    incomplete.refresh_from_db()
    assert (complete.status, incomplete.status) == (OrderStatus.PENDING, OrderStatus.CREATED)


def test_check_status_action(staff, order_factory):
    paid, waiting = order_factory(), order_factory()
    services.create_payment_link(paid)
    services.create_payment_link(waiting)
    paid_quietly(paid)

    html = run_action(staff, "check_status", [paid, waiting])

    assert report_outcomes(html) == {paid.invoice_number: "changed", waiting.invoice_number: "unchanged"}
    paid.refresh_from_db()
    waiting.refresh_from_db()
    assert (paid.status, waiting.status) == (OrderStatus.PAID, OrderStatus.PENDING)
    assert paid.events.get(new_status=OrderStatus.PAID).source == OrderEvent.Source.STATUS_CHECK


def test_cancel_orders_action(staff, order_factory):
    linked, draft = order_factory(), order_factory()
    services.create_payment_link(linked)

    html = run_action(staff, "cancel_orders", [linked, draft])

    assert report_outcomes(html) == {linked.invoice_number: "cancelled", draft.invoice_number: "cancelled"}
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    assert linked.checkout_sessions.get().status == CheckoutSession.Status.CANCELLED
    assert OrderEvent.objects.filter(new_status=OrderStatus.CANCELLED, source=OrderEvent.Source.ADMIN).count() == 2


# --- the notification log's action ---------------------------------------------------------------


def test_reprocess_action(staff, shopper, order_factory, doku_settings):
    doku_settings(CONFIRM_WITH_STATUS_API=True)
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    STORE.set_faults(CLIENT_ID, Faults(error_rate=1))  # the Status API is down: nothing can be confirmed
    body, headers = signed_notification(order)
    answer = shopper.http.post(
        shopper.url(reverse("doku_checkout:notification")), data=body, headers=headers, timeout=TIMEOUT
    )
    assert answer.status_code == 503  # so DOKU retries
    failed = Notification.objects.get()
    assert failed.outcome == Notification.Outcome.UNCONFIRMED
    assert failed.signature_valid
    STORE.set_faults(CLIENT_ID, Faults())
    changelist = reverse("admin:django_doku_checkout_notification_changelist")
    assert 'value="reprocess"' in staff.get(changelist).text

    staff.post(changelist, {"action": "reprocess", "_selected_action": [failed.pk]}, expect=302)

    assert "1 notification reprocessed" in staff.get(changelist).text
    failed.refresh_from_db()
    order.refresh_from_db()
    assert failed.outcome == Notification.Outcome.PROCESSED
    assert order.status == OrderStatus.PAID
    assert order.events.get(new_status=OrderStatus.PAID).notification == failed


# --- the shopper's side --------------------------------------------------------------------------


def test_shopper_pays_on_the_hosted_page(shopper, live_doku, order_factory):
    order = order_factory()
    result = reverse("doku_checkout:result", args=[order.public_id])
    pay = reverse("doku_checkout:pay", args=[order.public_id])
    assert f'action="{pay}"' in shopper.get(result).text  # the page's Pay button, with its CSRF token

    hosted = shopper.post(pay, expect=302).headers["Location"]

    session = order.checkout_sessions.get()
    assert hosted == session.payment_url
    assert hosted.startswith(live_doku)
    page = shopper.get(hosted)
    token = CSRF_FIELD.search(page.text)
    assert token
    assert order.invoice_number in page.text
    paid = shopper.post(
        hosted, {"csrfmiddlewaretoken": token.group(1), "action": "pay", "method": "VIRTUAL_ACCOUNT_BCA"}, expect=302
    )
    back = reverse("doku_checkout:return", args=[order.public_id])
    assert paid.headers["Location"] == live_doku + back
    assert STORE.wait_until_idle(10)  # DOKU's notification was answered
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    notification = Notification.objects.get()
    assert (notification.outcome, notification.signature_valid) == (Notification.Outcome.PROCESSED, True)
    assert "doku-order-status-paid" in shopper.get(back).text


@pytest.mark.parametrize("page", ["return", "cancel", "result"])
def test_callback_page_checks_a_pending_order_at_doku(shopper, order_factory, page):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)

    html = shopper.get(reverse(f"doku_checkout:{page}", args=[order.public_id])).text

    assert "doku-order-status-paid" in html
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.events.get(new_status=OrderStatus.PAID).source == OrderEvent.Source.STATUS_CHECK


def test_shopper_leaves_the_hosted_page(shopper, live_doku, order_factory):
    order = order_factory()
    session = services.create_payment_link(order)

    back = shopper.get(reverse("doku_simulator:cancel", args=[session.token_id]), expect=302).headers["Location"]

    assert back == live_doku + reverse("doku_checkout:cancel", args=[order.public_id])
    html = shopper.get(back).text
    assert "You left the payment page" in html
    assert "doku-order-status-pending" in html
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_signed_notification_pays_the_order_once(shopper, order_factory):
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    url = shopper.url(reverse("doku_checkout:notification"))

    codes = []
    for _ in range(2):  # DOKU may deliver the same result twice
        body, headers = signed_notification(order)
        codes.append(shopper.http.post(url, data=body, headers=headers, timeout=TIMEOUT).status_code)

    assert codes == [200, 200]
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    outcomes = list(Notification.objects.order_by("pk").values_list("outcome", "signature_valid"))
    assert outcomes == [(Notification.Outcome.PROCESSED, True), (Notification.Outcome.DUPLICATE, True)]
    event = order.events.get(new_status=OrderStatus.PAID)
    assert (event.source, event.notification) == (
        OrderEvent.Source.NOTIFICATION,
        Notification.objects.order_by("pk").first(),
    )
