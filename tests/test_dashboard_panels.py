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

from django_doku_checkout.models import CheckoutSession, Delivery, Order, OrderStatus, Refund
from tests.pages import staff_session
from tests.test_dashboard import DASHBOARD, fill, panel, result_count, staff_member, text_of


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
