"""The dashboard's panels as a reader meets them: links only to lists the reader may open, the zone
its days are in, shares that add up, the refunds' list and word, labels that fit in Indonesian.

The figures themselves, and what each panel's list counts, are tests/test_dashboard.py's; the
labels measured in Chromium are tests/test_dashboard_browser.py's.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signals
from django_doku_checkout.models import CheckoutSession, Delivery, Order, OrderStatus, Refund
from django_doku_checkout.services import after_response
from django_doku_checkout.simulator import actions
from django_doku_checkout.simulator.store import STORE
from tests.doku import CLIENT_ID
from tests.pages import staff_session
from tests.test_dashboard import DASHBOARD, fill, panel, result_count, staff_member, text_of
from tests.test_refunds import paid_order, refund_at_doku


def content(page: str) -> str:
    """The dashboard itself, without the admin's header and breadcrumbs."""
    return page[page.index('<div id="content-main" class="doku-dashboard">') :]


def paid_through(order_factory, channel: str, **fields) -> Order:
    """An order paid through ``channel``, written straight to the tables."""
    order = order_factory(status=OrderStatus.PAID, paid_at=timezone.now(), **fields)
    link = CheckoutSession.objects.create(
        order=order,
        invoice_number=f"{order.invoice_number}-L",
        request_id=f"req-{order.pk}",
        status=CheckoutSession.Status.PAID,
        payment_channel=channel,
    )
    Order.objects.filter(pk=order.pk).update(paid_link=link)
    return order


def refunded(order: Order, status: str, *, days_ago: int = 0) -> Refund:
    """A refund of ``order``'s payment in ``status``, asked for ``days_ago``."""
    refund = Refund.objects.create(
        order=order,
        checkout_session=CheckoutSession.objects.get(order=order),
        amount=1000,
        method="manual",
        status=status,
        request_id=f"r-{order.pk}-{status}",
    )
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return refund


def test_panels_link_only_to_the_lists_the_reader_may_open(live_server, django_user_model, order_factory):
    fill(order_factory, 3)  # payments, refunds, failing deliveries, rejected notifications
    staff_member(django_user_model, "viewer", "view_order")
    staff_member(django_user_model, "auditor", "view_order", "view_notification")
    viewer, auditor = staff_session(live_server.url, "viewer"), staff_session(live_server.url, "auditor")
    url = live_server.url + reverse(DASHBOARD)

    page = viewer.get(url, timeout=10).text
    rejected = panel(page, "rejected")
    assert "<a " not in rejected  # neither the title nor the rows: the list answers 403 for them
    assert "Notifications rejected per hour" in text_of(rejected)
    assert re.search(r"<tr><td>[^<]+</td><td>1</td></tr>", rejected)  # the rows are still there, as text
    hrefs = {href.replace("&amp;", "&") for href in re.findall(r'href="([^"]+)"', content(page))}
    assert any("/order/?" in href for href in hrefs)  # the orders' panels still link
    for href in sorted(hrefs):
        assert viewer.get(live_server.url + href, timeout=10).status_code == 200, href

    assert re.search(r'<h2><a href="[^"]+/notification/\?', panel(auditor.get(url, timeout=10).text, "rejected"))


@pytest.mark.django_db
def test_under_startprojects_utc_the_page_says_the_admins_lists_show_utc(settings, admin_client, order_factory):
    settings.TIME_ZONE = "UTC"
    refunded(paid_through(order_factory, "QRIS"), Refund.Status.SUCCEEDED)

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    said = html.unescape(text_of(content(page)))
    assert "the admin's lists show times in UTC, the project's TIME_ZONE" in said
    assert 'set TIME_ZONE = "Asia/Jakarta" to read both in WIB' in said
    newest = re.search(r'id="doku-recent-refunds">(.*?)</table>', page, re.S)
    assert newest
    assert re.search(r"<td>[^<]+ WIB</td></tr>", newest.group(1))


@pytest.mark.django_db
def test_with_the_shops_own_zone_set_there_is_nothing_to_say(settings, admin_client, order_factory):
    settings.TIME_ZONE = "Asia/Makassar"
    refunded(paid_through(order_factory, "QRIS"), Refund.Status.SUCCEEDED)

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    assert "admin&#x27;s lists" not in page
    assert re.search(r"<td>[^<]+ WITA</td></tr>", panel(page, "refunds"))


@pytest.mark.django_db
def test_channel_shares_add_up_to_a_hundred(admin_client, order_factory):
    for channel in ("QRIS", "QRIS", "CREDIT_CARD", "VIRTUAL_ACCOUNT_BCA", "VIRTUAL_ACCOUNT_BNI", "EMONEY_OVO"):
        paid_through(order_factory, channel)
    for channel in ("EMONEY_DANA", "EMONEY_SHOPEE_PAY"):
        paid_through(order_factory, channel)  # 2 of 8, then six of 1 in 8: 12.5 % each

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    shares = [int(share) for share in re.findall(r"</td><td>\d+</td><td>(\d+)%</td>", panel(page, "channels"))]
    assert len(shares) == 7
    assert shares[0] == 25
    assert sum(shares) == 100
    assert sorted(shares[1:]) == [12, 12, 12, 13, 13, 13]


@pytest.mark.django_db
def test_the_refunds_title_opens_every_refund_of_the_window(admin_client, order_factory):
    statuses = (Refund.Status.REQUESTED, Refund.Status.SUCCEEDED, Refund.Status.FAILED)
    recent = [refunded(paid_through(order_factory, "CREDIT_CARD"), status).order for status in statuses]
    old = refunded(paid_through(order_factory, "CREDIT_CARD"), Refund.Status.SUCCEEDED, days_ago=40).order
    page = admin_client.get(reverse(DASHBOARD)).content.decode()
    href = re.search(r'<h2><a href="([^"]+)"', panel(page, "refunds"))
    assert href

    listed = admin_client.get(html.unescape(href.group(1)))

    assert listed.status_code == 200  # not a redirect to ?e=1: the admin took every lookup
    shown = listed.content.decode()
    assert result_count(shown) == "3 orders"
    assert all(order.invoice_number in shown for order in recent)
    assert old.invoice_number not in shown


@pytest.mark.django_db
def test_in_indonesian_refunds_have_one_word_and_labels_are_whole(settings, admin_client, order_factory):
    settings.LANGUAGE_CODE = "id"
    fill(order_factory, 3)
    paid_through(order_factory, "VIRTUAL_ACCOUNT_BANK_SYARIAH_MANDIRI")
    order = order_factory()
    for status in ("pending", "failed", "failed"):
        Delivery.objects.create(order=order, signal="payment_succeeded", receiver="shop.a.to_crm", status=status)

    page = admin_client.get(reverse(DASHBOARD)).content.decode()

    refunds = text_of(panel(page, "refunds")).lower()
    assert "pengembalian dana" in refunds
    assert "refund" not in refunds
    labels = re.findall(r'<text class="doku-label"[^>]*>([^<]+)<', page)
    assert "Virtual Account Bank Syariah Mandiri" in labels
    assert "to_crm" in labels
    assert "1 akan dicoba lagi, 2 dihentikan" in re.findall(r'<text class="doku-value"[^>]*>([^<]+)<', page)


# Each figure equals the count of the list its link opens (attack30 F5), over HTTP as staff meet it.


def listed(session, base: str, href: str) -> int:
    """How many rows the admin list ``href`` opens (not a redirect to ?e=1: the admin took every lookup)."""
    page = session.get(base + html.unescape(href), timeout=10)
    assert page.status_code == 200
    assert "?e=1" not in page.url, page.url
    return int(result_count(page.text).split()[0])


def row(panel_html: str, label: str) -> tuple[int, str]:
    """A table row's first figure and its link, by the row's label."""
    found = re.search(rf'<td><a href="([^"]+)">{re.escape(label)}</a></td><td>(\d+)</td>', panel_html)
    assert found, text_of(panel_html)
    return int(found.group(2)), found.group(1)


def dashboard(live_url: str):
    admin = staff_session(live_url)
    return admin, admin.get(live_url + reverse(DASHBOARD), timeout=10).text


def pay(order: Order, method: str) -> None:
    link = services.create_payment_link(order)
    actions.settle(STORE.find(CLIENT_ID, link.invoice_number), "pay", method)
    assert STORE.wait_until_idle(10)


def test_a_refunds_row_counts_the_orders_its_list_opens(live_doku, order_factory, admin_user):
    order, _ = paid_order(order_factory)
    refund_at_doku(order, 10_000)
    refund_at_doku(order, 20_000)  # two refunds of one order
    admin, page = dashboard(live_doku)
    refunds = panel(page, "refunds")
    assert "Succeeded 1 2 Rp 30.000" in text_of(refunds)  # orders, refunds, amount
    figure, href = row(refunds, "Succeeded")
    assert figure == listed(admin, live_doku, href) == 1


@pytest.mark.django_db
def test_a_refunds_row_lists_orders_whose_refund_in_that_status_was_asked_in_the_window(admin_client, order_factory):
    old_success = paid_through(order_factory, "CREDIT_CARD")
    refunded(old_success, Refund.Status.SUCCEEDED, days_ago=40)
    refunded(old_success, Refund.Status.FAILED)  # in the window, but not succeeded
    page = admin_client.get(reverse(DASHBOARD)).content.decode()
    figure, href = row(panel(page, "refunds"), "Succeeded")
    shown = admin_client.get(html.unescape(href)).content.decode()
    assert figure == 0
    assert result_count(shown) == "0 orders"


def test_a_channel_row_counts_the_orders_paid_with_it(live_doku, order_factory, admin_user):
    """Order a tried BNI and failed, its link expired, then paid by QRIS on a second link; b paid by BNI."""
    a = order_factory(items=[("Kopi", 50_000, 1)])
    first = services.create_payment_link(a)
    session = STORE.find(CLIENT_ID, first.invoice_number)
    actions.settle(session, "fail", "VIRTUAL_ACCOUNT_BNI")
    actions.settle(session, "expire")
    assert STORE.wait_until_idle(10)
    pay(a, "QRIS")
    pay(order_factory(items=[("Teh", 20_000, 1)]), "VIRTUAL_ACCOUNT_BNI")
    admin, page = dashboard(live_doku)
    channels = panel(page, "channels")
    assert "Virtual Account BNI 1 50%" in text_of(channels)
    figure, href = row(channels, "Virtual Account BNI")
    assert figure == listed(admin, live_doku, href) == 1
    # the order list's "payment method" filter still means paid or attempted with
    orders = reverse("admin:django_doku_checkout_order_changelist")
    assert listed(admin, live_doku, f"{orders}?payment_channel=VIRTUAL_ACCOUNT_BNI") == 2


def test_not_reported_by_doku_lists_only_the_paid_orders_whose_link_has_no_channel(
    live_doku, order_factory, admin_user
):
    pay(order_factory(items=[("Kopi", 50_000, 1)]), "QRIS")
    unreported = order_factory(items=[("Teh", 20_000, 1)])
    pay(unreported, "VIRTUAL_ACCOUNT_BCA")
    CheckoutSession.objects.filter(order=unreported).update(payment_channel="")  # an answer without channel.id
    order_factory(items=[("Roti", 10_000, 1)])  # not paid
    admin, page = dashboard(live_doku)
    channels = panel(page, "channels")
    assert "Not reported by DOKU 1" in text_of(channels)
    figure, href = row(channels, "Not reported by DOKU")
    assert figure == listed(admin, live_doku, href) == 1


def failing_everything(sender, order, **kwargs):
    raise ConnectionError("CRM is down")


def test_the_deliveries_figure_counts_the_orders_its_list_opens(live_doku, order_factory, admin_user):
    """One order, one failing receiver on two signals: two deliveries failing, one order."""
    signals.payment_succeeded.connect(failing_everything, weak=False)
    signals.order_status_changed.connect(failing_everything, weak=False)
    try:
        paid_order(order_factory)
        assert after_response.wait_until_done(10)
    finally:
        signals.payment_succeeded.disconnect(failing_everything)
        signals.order_status_changed.disconnect(failing_everything)
    admin, page = dashboard(live_doku)
    deliveries = panel(page, "deliveries")
    figure = int(re.search(r"<strong>(\d+)</strong>", deliveries).group(1))
    href = re.search(r'<h2><a href="([^"]+)"', deliveries).group(1)
    assert figure == listed(admin, live_doku, href) == 1
