"""The admin as shop staff use it, driven through the test client against the simulator."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_doku_checkout import payloads, services
from django_doku_checkout.client import DokuClient
from django_doku_checkout.models import CheckoutSession, LineItem, Notification, Order, OrderEvent, OrderStatus
from django_doku_checkout.services.link_requests import build_checkout_data
from tests.pages import change_form_data

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_doku_checkout_order_changelist"


def change_url(order: Order) -> str:
    return reverse("admin:django_doku_checkout_order_change", args=[order.pk])


def operation_url(order: Order, operation: str) -> str:
    return reverse("admin:django_doku_checkout_order_operation", args=[order.pk, operation])


def run_action(client, action: str, orders, url_name: str = CHANGELIST):
    return client.post(
        reverse(url_name), {"action": action, "_selected_action": [order.pk for order in orders]}, follow=True
    )


def report_rows(response) -> dict[str, str]:
    """The action report's rows, keyed by invoice number: the row's HTML."""
    html = response.content.decode()
    rows = re.findall(r'<tr class="doku-result doku-result-(\w+)" data-invoice="([^"]+)">(.*?)</tr>', html, re.S)
    return {invoice: f"{outcome}|{body}" for outcome, invoice, body in rows}


@pytest.fixture
def staff_client(client):
    """Log in a staff user holding exactly the given permissions (codenames of this app)."""

    def login(*codenames: str):
        user = User.objects.create_user("clerk", password="x", is_staff=True)
        user.user_permissions.set(
            Permission.objects.filter(content_type__app_label="django_doku_checkout", codename__in=codenames)
        )
        client.force_login(user)
        return client

    return login


def claim_invoice_at_doku(order: Order) -> None:
    """Another system already has a live DOKU payment under this order's invoice number."""
    body = payloads.build_checkout_body(build_checkout_data(order, invoice_number=order.invoice_number))
    DokuClient().create_checkout_payment(body)


# --- actions ---------------------------------------------------------------------------------------


def test_create_payment_links_reports_every_order_of_a_mixed_selection(admin_client, order_factory, doku_simulator):
    valid = order_factory()
    reused = order_factory()
    open_link = services.create_payment_link(reused)
    paid = order_factory()
    doku_simulator.pay(paid)
    invalid = order_factory(amount=1000)  # the line items add up to 240,000
    refused = order_factory()
    claim_invoice_at_doku(refused)

    response = run_action(admin_client, "create_payment_links", [valid, reused, paid, invalid, refused])

    assert response.status_code == 200
    rows = report_rows(response)
    valid_session = valid.checkout_sessions.get()
    assert rows[valid.invoice_number].startswith("created|")
    assert f'href="{valid_session.payment_url}"' in rows[valid.invoice_number]
    assert rows[reused.invoice_number].startswith("reused|")
    assert open_link.payment_url in rows[reused.invoice_number]
    assert rows[paid.invoice_number].startswith("skipped|")
    assert "is paid" in rows[paid.invoice_number]
    assert rows[invalid.invoice_number].startswith("failed|")
    assert "line_items total (price x quantity) is 240000 but order.amount is 1000" in rows[invalid.invoice_number]
    assert rows[refused.invoice_number].startswith("failed|")
    assert "already used by an active payment" in rows[refused.invoice_number]
    assert "Request-Id" in rows[refused.invoice_number]

    for order in (valid, reused, paid, invalid, refused):
        order.refresh_from_db()
    assert valid.status == reused.status == OrderStatus.PENDING
    assert paid.status == OrderStatus.PAID
    assert invalid.status == refused.status == OrderStatus.CREATED
    assert refused.checkout_sessions.get().status == CheckoutSession.Status.ERROR  # the refusal is on record
    assert not invalid.checkout_sessions.exists()  # nothing invalid was sent
    event = valid.events.get()
    assert (event.source, event.actor.username) == (OrderEvent.Source.ADMIN, "admin")


def test_doku_down_fails_each_order_without_aborting_the_others(admin_client, order_factory, doku_simulator):
    orders = [order_factory(), order_factory()]
    doku_simulator.set_faults(error_rate=1)
    rows = report_rows(run_action(admin_client, "create_payment_links", orders))
    assert [rows[order.invoice_number].split("|")[0] for order in orders] == ["failed", "failed"]
    assert all("DOKU had a problem (HTTP 503)" in row and "Try again later" in row for row in rows.values())
    assert CheckoutSession.objects.filter(status=CheckoutSession.Status.ERROR).count() == 2


def test_card_payment_page_action_uses_the_shops_theme(admin_client, order_factory, doku_simulator, doku_settings):
    doku_settings(CARD_PAGE_THEME={"background_color": "#FFFFFF", "button_background_color": "#E1251B"})
    complete = order_factory(
        customer_id="CUST-1", customer_address="Jl. Sudirman 1", customer_country="ID", customer_phone="081234567890"
    )
    incomplete = order_factory()  # no address: DOKU's card page requires one
    rows = report_rows(run_action(admin_client, "create_card_payment_pages", [complete, incomplete]))
    session = complete.checkout_sessions.get()
    assert session.kind == CheckoutSession.Kind.CARD_PAGE
    assert rows[complete.invoice_number].startswith("created|")
    assert session.payment_url in rows[complete.invoice_number]
    themes = session.request_body["override_configuration"]["themes"]
    assert themes["background_color"] == "FFFFFF"
    assert themes["button_background_color"] == "E1251B"
    assert rows[incomplete.invoice_number].startswith("failed|")
    assert "customer.address" in rows[incomplete.invoice_number]


def test_check_status_action_applies_dokus_answer_per_order(admin_client, order_factory, doku_simulator):
    paid_quietly = order_factory()
    services.create_payment_link(paid_quietly)
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(paid_quietly)  # DOKU took the money but the notification never came
    waiting = order_factory()
    services.create_payment_link(waiting)
    no_link = order_factory()

    rows = report_rows(run_action(admin_client, "check_status", [paid_quietly, waiting, no_link]))

    assert rows[paid_quietly.invoice_number].startswith("changed|")
    assert "SUCCESS" in rows[paid_quietly.invoice_number]
    assert rows[waiting.invoice_number].startswith("unchanged|")
    assert "PENDING" in rows[waiting.invoice_number]
    assert rows[no_link.invoice_number].startswith("unchanged|")
    paid_quietly.refresh_from_db()
    assert paid_quietly.status == OrderStatus.PAID
    assert paid_quietly.events.last().source == OrderEvent.Source.STATUS_CHECK


def test_check_status_reports_the_status_api_being_down(admin_client, order_factory, doku_simulator):
    order = order_factory()
    services.create_payment_link(order)
    doku_simulator.set_faults(error_rate=1)
    rows = report_rows(run_action(admin_client, "check_status", [order]))
    assert rows[order.invoice_number].startswith("failed|")
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_cancel_orders_cancels_unpaid_and_skips_paid(admin_client, order_factory, doku_simulator, signal_log):
    unpaid = order_factory()
    link = services.create_payment_link(unpaid)
    paid = order_factory()
    doku_simulator.pay(paid)
    rows = report_rows(run_action(admin_client, "cancel_orders", [unpaid, paid]))
    assert rows[unpaid.invoice_number].startswith("cancelled|")
    assert rows[paid.invoice_number].startswith("skipped|")
    unpaid.refresh_from_db()
    link.refresh_from_db()
    assert unpaid.status == OrderStatus.CANCELLED
    assert link.status == CheckoutSession.Status.CANCELLED
    assert services.live_link(unpaid) is None
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID


def test_payment_on_a_cancelled_order_is_kept_and_flagged(admin_client, order_factory, doku_simulator):
    order = order_factory()
    services.create_payment_link(order)
    run_action(admin_client, "cancel_orders", [order])
    assert doku_simulator.notify(order, "SUCCESS") == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.needs_review
    assert Notification.objects.get().outcome == Notification.Outcome.FLAGGED


# --- permissions -----------------------------------------------------------------------------------


def test_staff_without_the_permission_cannot_create_links(staff_client, order_factory, doku_simulator):
    client = staff_client("view_order", "change_order")
    order = order_factory()
    changelist = client.get(reverse(CHANGELIST))
    offered = [value for value, _ in changelist.context["action_form"].fields["action"].choices]
    assert "check_status" in offered
    assert "create_payment_links" not in offered
    run_action(client, "create_payment_links", [order])
    assert client.post(operation_url(order, "create-link")).status_code == 403
    assert client.post(operation_url(order, "card-page")).status_code == 403
    assert b"doku-create-link" not in client.get(change_url(order)).content
    assert not order.checkout_sessions.exists()


def test_the_permission_alone_allows_creating_links(staff_client, order_factory, doku_simulator):
    client = staff_client("view_order", "create_payment_link")
    order = order_factory()
    changelist = client.get(reverse(CHANGELIST))
    offered = [value for value, _ in changelist.context["action_form"].fields["action"].choices]
    assert "create_payment_links" in offered
    assert "cancel_orders" not in offered
    rows = report_rows(run_action(client, "create_payment_links", [order]))
    assert rows[order.invoice_number].startswith("created|")
    assert client.post(operation_url(order, "cancel")).status_code == 403


# --- the change page -------------------------------------------------------------------------------


def test_change_page_buttons_create_copy_and_open_the_link(admin_client, order_factory, doku_simulator):
    order = order_factory()
    page = admin_client.get(change_url(order)).content.decode()
    assert 'id="doku-create-link"' in page
    assert 'id="doku-open-link"' not in page
    assert admin_client.get(operation_url(order, "create-link")).status_code == 403  # POST only

    response = admin_client.post(operation_url(order, "create-link"), follow=True)

    session = order.checkout_sessions.get()
    assert response.redirect_chain[-1][0] == change_url(order)
    messages = [str(message) for message in response.context["messages"]]
    assert any(session.payment_url in message for message in messages)
    page = response.content.decode()
    assert 'id="doku-open-link">' in page
    assert f'href="{session.payment_url}" target="_blank"' in page
    assert f'data-doku-copy="{session.payment_url}"' in page
    assert "django_doku_checkout/copy_link.js" in page


def test_change_page_status_and_cancel_buttons(admin_client, order_factory, doku_simulator):
    order = order_factory()
    services.create_payment_link(order)
    doku_simulator.set_faults(drop_notifications=True)
    doku_simulator.pay(order)
    response = admin_client.post(operation_url(order, "check-status"), follow=True)
    assert any("SUCCESS" in str(message) for message in response.context["messages"])
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    page = response.content.decode()
    assert 'id="doku-create-link"' not in page
    assert 'id="doku-cancel"' not in page
    response = admin_client.post(operation_url(order, "cancel"), follow=True)
    assert any("is paid" in str(message) for message in response.context["messages"])


def test_unknown_order_or_operation_is_404(admin_client, order_factory):
    order = order_factory()
    assert admin_client.post(operation_url(order, "refund-everything")).status_code == 404
    missing = reverse("admin:django_doku_checkout_order_operation", args=[999999, "cancel"])
    assert admin_client.post(missing).status_code == 404


def test_line_items_are_editable_until_paid(admin_client, order_factory, doku_simulator):
    unpaid = order_factory()
    services.create_payment_link(unpaid)
    assert b'name="line_items-0-price"' in admin_client.get(change_url(unpaid)).content
    paid = order_factory()
    doku_simulator.pay(paid)
    page = admin_client.get(change_url(paid)).content
    assert b'name="line_items-0-price"' not in page
    assert b'name="amount"' not in page
    assert b"Batik shirt" in page  # still shown, read-only


def test_saving_an_order_whose_items_do_not_add_up_is_refused(admin_client, order_factory):
    order = order_factory()
    response = admin_client.post(change_url(order), change_form_data(order, **{"line_items-0-quantity": 3}))
    assert response.status_code == 200  # the form again, with the error
    assert "The order&#x27;s amount (Rp 240.000) does not equal its line items&#x27; total (Rp 540.000)" in (
        response.content.decode()
    )
    assert LineItem.objects.get(pk=order.line_items.first().pk).quantity == 1


def test_changing_the_amount_withdraws_the_open_link(admin_client, order_factory, doku_simulator):
    order = order_factory()
    old_link = services.create_payment_link(order)
    data = change_form_data(order, amount=390_000, **{"line_items-0-quantity": 2})
    response = admin_client.post(change_url(order), data, follow=True)
    assert any("withdrawn" in str(message) for message in response.context["messages"])
    old_link.refresh_from_db()
    assert old_link.status == CheckoutSession.Status.CANCELLED
    new_link = services.create_payment_link(order)
    assert new_link.pk != old_link.pk
    assert new_link.request_body["order"]["amount"] == 390_000


def test_add_page_suggests_an_unguessable_invoice_number(admin_client):
    page = admin_client.get(reverse("admin:django_doku_checkout_order_add")).content.decode()
    assert re.search(r'name="invoice_number" value="INV\d{8}[0-9A-F]{8}"', page)


# --- the list ----------------------------------------------------------------------------------------


def test_changelist_shows_rupiah_badges_and_the_latest_link(admin_client, order_factory, doku_simulator):
    order = order_factory()
    session = services.create_payment_link(order)
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Rp 240.000" in page
    assert '<span class="doku-order-status doku-order-status-pending">Pending payment</span>' in page
    assert session.payment_url in page
    assert "expires" in page
    assert "simulator-secret-for-tests" not in page


def test_changelist_filters_and_search(admin_client, order_factory, doku_simulator):
    paid = order_factory(customer_name="Budi Santoso")
    doku_simulator.pay(paid, method="QRIS")
    other = order_factory(customer_name="Ani Wijaya")
    url = reverse(CHANGELIST)
    by_channel = admin_client.get(url, {"payment_channel": "QRIS"}).context["cl"].result_list
    assert list(by_channel) == [paid]
    assert list(admin_client.get(url, {"status__exact": "created"}).context["cl"].result_list) == [other]
    assert list(admin_client.get(url, {"q": "santoso"}).context["cl"].result_list) == [paid]
    assert list(admin_client.get(url, {"q": other.invoice_number}).context["cl"].result_list) == [other]


def _orders_with_links(count: int) -> None:
    orders = Order.objects.bulk_create(
        Order(invoice_number=f"BULK-{count}-{index}", amount=10_000, customer_email="a@example.com")
        for index in range(count)
    )
    CheckoutSession.objects.bulk_create(
        CheckoutSession(
            order=order,
            invoice_number=order.invoice_number,
            request_id=f"req-{order.invoice_number}",
            payment_url=f"https://sandbox.doku.com/checkout-link-v2/{order.invoice_number}",
        )
        for order in orders
    )


def test_changelist_queries_do_not_grow_with_the_orders(admin_client):
    def queries_for_changelist() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse(CHANGELIST)).status_code == 200
        return len(captured)

    _orders_with_links(10)
    with_ten = queries_for_changelist()
    _orders_with_links(990)
    with_thousand = queries_for_changelist()
    assert with_ten == with_thousand


# --- the notification log ----------------------------------------------------------------------


def test_notification_log_is_read_only(admin_client, order_factory, doku_simulator):
    order = order_factory()
    doku_simulator.pay(order)
    notification = Notification.objects.get()
    assert admin_client.get(reverse("admin:django_doku_checkout_notification_add")).status_code == 403
    page = admin_client.get(reverse("admin:django_doku_checkout_notification_change", args=[notification.pk]))
    assert page.status_code == 200
    assert b'name="outcome"' not in page.content
    delete = reverse("admin:django_doku_checkout_notification_delete", args=[notification.pk])
    assert admin_client.post(delete).status_code == 403
    before = Notification.objects.values().get()
    admin_client.post(
        reverse("admin:django_doku_checkout_notification_change", args=[notification.pk]), {"outcome": "ignored"}
    )
    assert Notification.objects.values().get() == before


def test_notification_page_pretty_prints_without_secrets(admin_client, order_factory, doku_simulator):
    order = order_factory()
    doku_simulator.pay(order)
    notification = Notification.objects.get()
    page = admin_client.get(reverse("admin:django_doku_checkout_notification_change", args=[notification.pk]))
    html = page.content.decode()
    assert '<pre class="doku-json">{\n  &quot;' in html  # indented JSON
    assert f"&quot;invoice_number&quot;: &quot;{order.checkout_sessions.get().invoice_number}&quot;" in html
    assert "&quot;Signature&quot;: &quot;[redacted]&quot;" in html
    assert "HMACSHA256=" not in html
    assert "simulator-secret-for-tests" not in html
    assert change_url(order) in html  # linked order
    listing = admin_client.get(reverse("admin:django_doku_checkout_notification_changelist"), {"outcome": "processed"})
    assert list(listing.context["cl"].result_list) == [notification]


def test_reprocess_applies_a_failed_notification_once_the_cause_is_gone(
    admin_client, order_factory, doku_simulator, doku_settings
):
    doku_settings(CONFIRM_WITH_STATUS_API=True)
    order = order_factory()
    services.create_payment_link(order)
    doku_simulator.set_faults(error_rate=1)  # DOKU's Status API is down: the notification cannot be confirmed
    assert doku_simulator.pay(order) == 503
    failed = Notification.objects.get()
    assert failed.outcome == Notification.Outcome.UNCONFIRMED
    doku_simulator.set_faults(error_rate=0)
    url = reverse("admin:django_doku_checkout_notification_changelist")

    response = admin_client.post(url, {"action": "reprocess", "_selected_action": [failed.pk]}, follow=True)

    assert any("reprocessed" in str(message) for message in response.context["messages"])
    failed.refresh_from_db()
    order.refresh_from_db()
    assert failed.outcome == Notification.Outcome.PROCESSED
    assert order.status == OrderStatus.PAID
    again = admin_client.post(url, {"action": "reprocess", "_selected_action": [failed.pk]}, follow=True)
    assert any("skipped" in str(message) for message in again.context["messages"])
    assert order.events.filter(new_status=OrderStatus.PAID).count() == 1


def test_reprocess_needs_the_right_to_change_orders(staff_client, order_factory, doku_simulator):
    client = staff_client("view_notification")
    listing = client.get(reverse("admin:django_doku_checkout_notification_changelist"))
    assert listing.status_code == 200
    assert listing.context["action_form"] is None  # a viewer is offered no action, reprocess included


def test_orders_doku_knows_about_cannot_be_deleted(admin_client, order_factory, doku_simulator):
    draft = order_factory()
    paid = order_factory()
    doku_simulator.pay(paid)
    delete = "admin:django_doku_checkout_order_delete"
    assert admin_client.post(reverse(delete, args=[paid.pk]), {"post": "yes"}).status_code == 403
    offered = [
        value for value, _ in admin_client.get(reverse(CHANGELIST)).context["action_form"].fields["action"].choices
    ]
    assert "delete_selected" not in offered
    admin_client.post(reverse(delete, args=[draft.pk]), {"post": "yes"})
    assert list(Order.objects.all()) == [paid]


def test_channel_names_read_as_doku_writes_them():
    from django_doku_checkout.payment_methods import label

    assert label("VIRTUAL_ACCOUNT_BCA") == "Virtual Account BCA"
    assert label("QRIS") == "QRIS"
    assert label("EMONEY_SHOPEE_PAY") == "e-money Shopee Pay"
    assert label("ONLINE_TO_OFFLINE_ALFA") == "Online to Offline Alfamart"


def test_the_order_list_shows_a_failed_last_attempt_and_doku_channel_names(admin_client, order_factory, doku_simulator):
    order = order_factory()
    assert doku_simulator.fail(order, method="VIRTUAL_ACCOUNT_BCA") == 200
    page = admin_client.get(reverse("admin:django_doku_checkout_order_changelist")).content.decode()
    assert "last attempt failed" in page
    assert "Virtual Account BCA" in page
    assert "Virtual Account Bca" not in page


def test_addresses_and_payment_methods_are_fields_not_json(admin_client, order_factory):
    order = order_factory()
    data = change_form_data(order)
    data.update(
        {
            "shipping_address_0": "Siti",
            "shipping_address_2": "Jl. Sudirman 1",
            "shipping_address_3": "Jakarta",
            "shipping_address_6": "IDN",
            "payment_method_types": ["VIRTUAL_ACCOUNT_BCA", "QRIS"],
        }
    )
    page = admin_client.get(change_url(order)).content.decode()
    assert 'name="shipping_address_0"' in page
    assert 'type="checkbox" name="payment_method_types"' in page

    assert admin_client.post(change_url(order), data).status_code == 302

    order.refresh_from_db()
    assert order.shipping_address == {
        "first_name": "Siti",
        "address": "Jl. Sudirman 1",
        "city": "Jakarta",
        "country_code": "IDN",
    }
    assert order.billing_address == {}
    assert order.payment_method_types == ["QRIS", "VIRTUAL_ACCOUNT_BCA"] or set(order.payment_method_types) == {
        "QRIS",
        "VIRTUAL_ACCOUNT_BCA",
    }


# --- the order page's groups ----------------------------------------------------------------------


def _fieldset(page: str, title: str) -> str:
    """The HTML of the change page's fieldset headed ``title``, up to the next one.

    Read up to the next section's ``<fieldset class="module``, not the first ``</fieldset>``:
    Django 6 wraps a field of several inputs (the checkboxes) in a fieldset of its own.
    """
    heading = page.find(f">{title}</h2>")
    assert heading != -1, f"no fieldset {title!r}"
    start = page.rfind("<fieldset", 0, heading)
    end = page.find('<fieldset class="module', heading)
    return page[start : end if end != -1 else len(page)]


def test_a_new_orders_page_is_grouped_with_addresses_and_options_collapsed(admin_client, order_factory):
    order = order_factory(allow_tenor=[3], metadata={"booking": 42})
    page = admin_client.get(change_url(order)).content.decode()

    customer = _fieldset(page, "Customer")
    assert 'name="customer_name"' in customer
    assert 'name="customer_email"' in customer
    assert "<details" not in customer
    addresses = _fieldset(page, "Addresses")
    assert addresses.count("<details") == 1
    assert 'name="shipping_address_0"' in addresses
    options = _fieldset(page, "DOKU options")
    assert options.count("<details") == 1
    # Tenors are ticked, not typed as JSON.
    assert re.search(r'<input type="checkbox" name="allow_tenor" value="3"[^>]*checked', options)
    assert 'name="allow_tenor" value="12"' in options
    assert "<textarea" not in options
    assert '<select name="status"' not in page  # the status is DOKU's answer: read-only from the start
    assert 'name="metadata"' in _fieldset(page, "Shop data")  # the shop's own data, editable until paid

    data = change_form_data(order, customer_name="Siti Aminah", allow_tenor=["3", "12"])
    assert admin_client.post(change_url(order), data).status_code == 302
    order.refresh_from_db()
    assert (order.customer_name, order.allow_tenor) == ("Siti Aminah", [3, 12])


def test_a_paid_orders_page_shows_what_doku_has_read_only(admin_client, order_factory, doku_simulator):
    order = order_factory(
        shipping_address={"first_name": "Siti", "address": "Jl. Sudirman 1", "city": "Jakarta"},
        payment_method_types=["VIRTUAL_ACCOUNT_BCA", "QRIS"],
        allow_tenor=[3, 6],
        metadata={"booking": 42},
    )
    doku_simulator.pay(order)
    page = admin_client.get(change_url(order)).content.decode()

    for name in ("customer_name", "customer_email", "shipping_address_0", "payment_method_types", "allow_tenor"):
        assert f'name="{name}"' not in page, name
    assert 'name="metadata"' not in page
    assert "<textarea" not in page
    assert "Siti Rahayu" in _fieldset(page, "Customer")
    addresses = _fieldset(page, "Addresses")
    assert "Jl. Sudirman 1" in addresses
    assert "Jakarta" in addresses
    assert "{" not in addresses
    options = _fieldset(page, "DOKU options")
    assert "Virtual Account BCA, QRIS" in options
    assert "3 months, 6 months" in options
    assert "&quot;booking&quot;: 42" in _fieldset(page, "Shop data")  # pretty-printed, not a text box

    # A forged POST changes nothing DOKU already has.
    data = change_form_data(order, customer_name="Someone Else", allow_tenor=["12"])
    admin_client.post(change_url(order), data)
    order.refresh_from_db()
    assert (order.customer_name, order.allow_tenor) == ("Siti Rahayu", [3, 6])


def test_addresses_and_options_are_read_only_while_a_link_is_live(admin_client, order_factory, doku_simulator):
    order = order_factory(allow_tenor=[3])
    services.create_payment_link(order)
    page = admin_client.get(change_url(order)).content.decode()
    # DOKU's page already shows them: a change would not reach it.
    assert 'name="allow_tenor"' not in page
    assert 'name="shipping_address_0"' not in page
    assert "3 months" in _fieldset(page, "DOKU options")
    # The shop sends the link by e-mail or WhatsApp itself: a mistyped address is corrected here.
    assert 'name="customer_email"' in page
    assert 'name="customer_phone"' in page
    assert 'name="amount"' in page  # changing it withdraws the link (see above)
