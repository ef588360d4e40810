"""The payments dashboard over HTTP: who may open it, the figures it shows for what the services did, its cost.

The data is made the way production makes it: payments at the simulator notified over
HTTP, one whose notification was dropped and that ``reconcile()`` settled, a notification
signed with the wrong key, a receiver that fails, a card refund through DOKU.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signals
from django_doku_checkout.models import CheckoutSession, Delivery, Notification, Order, OrderEvent, OrderStatus, Refund
from django_doku_checkout.reconciliation import reconcile
from django_doku_checkout.services import after_response
from tests.doku import forged_notification, paid_quietly
from tests.pages import staff_session
from tests.test_refunds import paid_order, refund_at_doku

DASHBOARD = "admin:django_doku_checkout_paymentsdashboard_changelist"


def failing_fulfilment(sender, order, **kwargs):
    """A shop's receiver whose warehouse is down."""
    raise ConnectionError("warehouse is down")


def staff_member(django_user_model, username: str, *permissions: str):
    user = django_user_model.objects.create_user(username=username, password="password", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=permissions))
    return user


def panel(page: str, name: str) -> str:
    """One panel's HTML, by its id."""
    found = re.search(rf'<section class="doku-panel" id="doku-panel-{name}">(.*?)</section>', page, re.S)
    assert found, page[:500]
    return found.group(1)


def text_of(html: str) -> str:
    """What a reader sees: the tags dropped, the white space folded."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_staff_who_may_view_orders_follow_the_index_to_the_dashboard(live_server, django_user_model):
    staff_member(django_user_model, "viewer", "view_order")
    staff = staff_session(live_server.url, "viewer")

    index = staff.get(live_server.url + reverse("admin:index"), timeout=10).text
    url = reverse(DASHBOARD)
    assert f'<a href="{url}"' in index  # in the app's block, beside Orders
    page = staff.get(live_server.url + url, timeout=10)

    assert page.status_code == 200
    assert "<h1>Payments dashboard</h1>" in page.text
    orders = staff.get(live_server.url + reverse("admin:django_doku_checkout_order_changelist"), timeout=10).text
    assert f'href="{url}" id="doku-dashboard-link"' in orders


def test_staff_who_may_not_view_orders_are_refused(live_server, django_user_model):
    staff_member(django_user_model, "clerk", "view_notification")
    staff = staff_session(live_server.url, "clerk")

    assert reverse(DASHBOARD) not in staff.get(live_server.url + reverse("admin:index"), timeout=10).text
    assert staff.get(live_server.url + reverse(DASHBOARD), timeout=10).status_code == 403


def test_visitors_are_sent_to_log_in(live_server):
    answer = requests.get(live_server.url + reverse(DASHBOARD), allow_redirects=False, timeout=10)

    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == reverse("admin:login")


def test_the_figures_are_what_the_services_did(live_doku, order_factory, django_user_model):
    signals.payment_succeeded.connect(failing_fulfilment, weak=False)
    try:
        card, _ = paid_order(order_factory)  # Rp 100.000 by card, notified over HTTP
        assert after_response.wait_until_done(10)
    finally:
        signals.payment_succeeded.disconnect(failing_fulfilment)
    refund_at_doku(card, 30_000)

    quiet = order_factory(items=[("Kopi Toraja 250g", 50_000, 1)])
    services.create_payment_link(quiet)
    paid_quietly(quiet)  # by virtual account; DOKU's notification never arrives
    reconcile(min_age=timedelta(0))

    waiting = order_factory(items=[("Teh Melati", 20_000, 1)])
    services.create_payment_link(waiting)
    assert forged_notification(live_doku, waiting) == 401  # signed with another key

    staff_member(django_user_model, "viewer", "view_order")
    viewer = staff_session(live_doku, "viewer")
    page = viewer.get(live_doku + reverse(DASHBOARD), timeout=10).text

    payments = text_of(panel(page, "payments"))
    assert "Rp 150.000 in 2 payments over the last 30 days" in payments
    assert "2 payments, Rp 150.000" in panel(page, "payments")  # today's bar's <title>
    channels = text_of(panel(page, "channels"))
    assert "Credit Card 1 50% Rp 100.000" in channels
    assert "Virtual Account BCA 1 50% Rp 50.000" in channels
    assert "1 pending" in text_of(panel(page, "pending"))
    assert "Under 1 hour 1" in text_of(panel(page, "pending"))
    refunds = text_of(panel(page, "refunds"))
    assert "Succeeded 1 1 Rp 30.000" in refunds  # orders, refunds, amount
    assert f"{card.invoice_number} Rp 30.000 Succeeded" in refunds
    deliveries = text_of(panel(page, "deliveries"))
    assert "1 order with a receiver failing" in deliveries
    assert "tests.test_dashboard.failing_fulfilment 1 0" in deliveries
    assert "1 in the last 48 hours" in text_of(panel(page, "rejected"))
    reconciled = text_of(panel(page, "reconciled"))
    assert "1 of the payments over the last 30 days (50%)" in reconciled

    def listed(row: str) -> str:
        """The list a row of a panel's table opens, by the row's link text."""
        href = re.search(rf'<a href="([^"]+)">{row}</a>', page)
        assert href, row
        return viewer.get(live_doku + href.group(1).replace("&amp;", "&"), timeout=10).text

    refunded, by_card = listed("Succeeded"), listed("Credit Card")
    assert card.invoice_number in refunded
    assert quiet.invoice_number not in refunded
    assert card.invoice_number in by_card
    assert quiet.invoice_number not in by_card
    waiting_list = listed("Under 1 hour")
    assert waiting.invoice_number in waiting_list
    assert card.invoice_number not in waiting_list


def test_each_panel_links_to_the_list_it_counts(live_doku, order_factory, admin_user):
    order = order_factory(items=[("Kopi Toraja 250g", 50_000, 1)])
    services.create_payment_link(order)
    paid_quietly(order)
    reconcile(min_age=timedelta(0))
    order_factory()  # another order, never paid: the filtered lists leave it out
    admin = staff_session(live_doku)
    page = admin.get(live_doku + reverse(DASHBOARD), timeout=10).text

    def listed(name: str) -> str:
        href = re.search(r'<h2><a href="([^"]+)"', panel(page, name))
        assert href
        answer = admin.get(live_doku + href.group(1).replace("&amp;", "&"), timeout=10)
        assert answer.status_code == 200
        assert "?e=1" not in answer.url  # the admin took every lookup
        return answer.text

    for name in ("payments", "reconciled"):
        shown = listed(name)
        assert result_count(shown) == "1 order"
        assert order.invoice_number in shown
    assert result_count(listed("rejected")) == "0 notifications"
    for name in ("channels", "pending", "refunds", "deliveries"):
        listed(name)  # every other panel's list opens, taking the panel's lookups
    href = re.search(r'<h2><a href="([^"]+)"', panel(page, "reconciled"))
    assert href
    assert parse_qs(urlsplit(href.group(1).replace("&amp;", "&")).query)["settled_by"] == ["reconciliation"]


def result_count(changelist: str) -> str:
    """The admin list's count as its paginator shows it (a <p> up to Django 5.2, a <nav> from 6.0)."""
    found = re.search(r'class="paginator".*?(\d+ \w+)\s*(?:<a |</p>|</nav>)', changelist, re.S)
    assert found
    return found.group(1)


def fill(order_factory, count: int) -> None:
    """``count`` orders of every kind the panels count, written straight to the tables."""
    now = timezone.now()
    for index in range(count):
        order = order_factory(status=OrderStatus.PAID, paid_at=now - timedelta(days=index % 40))
        link = CheckoutSession.objects.create(
            order=order,
            invoice_number=f"{order.invoice_number}-L",
            request_id=f"req-{order.pk}",
            status=CheckoutSession.Status.PAID,
            payment_channel=("QRIS", "VIRTUAL_ACCOUNT_BCA", "")[index % 3],
        )
        Order.objects.filter(pk=order.pk).update(paid_link=link)
        OrderEvent.objects.create(order=order, old_status="pending", new_status="paid", source="reconciliation")
        Refund.objects.create(
            order=order,
            checkout_session=link,
            amount=1000,
            method="manual",
            status="succeeded",
            request_id=f"r-{order.pk}",
        )
        Delivery.objects.create(order=order, signal="payment_succeeded", receiver=f"shop.r{index}", status="failed")
        Notification.objects.create(outcome="rejected", received_at=now - timedelta(hours=index % 50))
        order_factory(status=OrderStatus.PENDING, created_at=now - timedelta(hours=index * 10))


def test_the_page_costs_the_same_queries_whatever_the_data(admin_client, order_factory):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert admin_client.get(reverse(DASHBOARD)).status_code == 200
        return len(captured)

    empty = queries()
    fill(order_factory, 2)
    few = queries()
    fill(order_factory, 20)

    assert queries() == few == empty
    assert empty <= 12  # the session, the user, and the panels' eight


def test_the_page_has_no_inline_script_or_style(admin_client, order_factory):
    fill(order_factory, 3)
    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    assert "<svg" in page
    assert "style=" not in page
    assert "<style" not in page
    assert all(' src="' in tag for tag in re.findall(r"<script[^>]*>", page))  # scripts only from files
    assert not re.search(r"\son[a-z]+=", page)  # no event handler attributes
    assert "django_doku_checkout/dashboard.css" in page


@pytest.mark.django_db
def test_days_and_hours_are_the_shops_even_under_startprojects_utc(settings, admin_client, order_factory):
    settings.TIME_ZONE = "UTC"  # startproject's default: read as WIB, as the shopper's pages do
    moment = timezone.now().replace(hour=18, minute=30) - timedelta(days=1)  # 01:30 WIB the next day
    order_factory(status=OrderStatus.PAID, paid_at=moment, items=[("Batik", 77_000, 1)])

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    wib_day = timezone.localtime(moment, timezone.get_fixed_timezone(7 * 60)).date()
    rows = re.findall(r"<tr><td><a href=\"[^\"]+\">([^<]+)</a></td><td>(\d+)</td><td>Rp 77.000</td></tr>", page)
    assert len(rows) == 1
    assert rows[0][0] == wib_day.strftime("%B %-d")


def test_in_indonesian_with_coordinates_that_stay_numbers(settings, admin_client, order_factory):
    settings.LANGUAGE_CODE = "id"
    settings.USE_THOUSAND_SEPARATOR = True
    fill(order_factory, 7)

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    assert "<h1>Dasbor pembayaran</h1>" in page
    assert "Pembayaran per hari" in page
    assert "Kurang dari 1 jam" in page
    assert re.search(r'<rect class="doku-bar" x="\d+(\.\d+)?" y="\d+(\.\d+)?" width="\d+(\.\d+)?"', page)
    assert not re.search(r'\s(?:x|y|x1|x2|y1|y2|width|height|viewBox)="[^"]*,', page)  # Indonesian writes 1,5


def test_without_time_zone_support_the_days_are_time_zones(settings, admin_client, order_factory):
    """``USE_TZ = False``: the database holds naive times in ``TIME_ZONE``, and the page reads them so."""
    settings.USE_TZ = False
    order_factory(status=OrderStatus.PAID, paid_at=datetime.now(), items=[("Batik", 66_000, 1)])  # noqa: DTZ005

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    assert "Rp 66.000</strong> in 1 payment over the last 30 days" in page
    href = re.search(r'<tr><td><a href="([^"]+)">[^<]+</a></td><td>1</td><td>Rp 66.000</td></tr>', page)
    assert href
    assert admin_client.get(href.group(1).replace("&amp;", "&")).status_code == 200
