"""Staff hand customers their payment links from the admin: e-mail, QR code, WhatsApp; each recorded."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.models import OrderStatus
from tests.test_admin import change_url, operation_url, report_rows, run_action

pytestmark = pytest.mark.django_db


def share_url(order, channel):
    return reverse("admin:django_doku_checkout_order_share", args=[order.pk, channel])


def deliveries(order):
    """The order's history entries that record a link handed to the customer (status unchanged)."""
    return [(e.note, e.actor.username if e.actor else None) for e in order.events.all() if e.old_status == e.new_status]


def test_email_payment_links_action(admin_client, admin_user, order_factory, doku_simulator, mailoutbox):
    order = order_factory(items=[("Kopi Toraja 250g", 85_000, 2)])
    unreachable = order_factory(customer_email="")
    paid = order_factory(status=OrderStatus.PAID)
    rows = report_rows(run_action(admin_client, "email_payment_links", [order, unreachable, paid]))
    link = order.checkout_sessions.get()
    assert rows[order.invoice_number].startswith("sent|")
    assert "Link e-mailed to siti@example.com." in rows[order.invoice_number]
    assert "<svg" in rows[order.invoice_number]  # the QR code of the link
    assert "The order has no customer e-mail address." in rows[unreachable.invoice_number]
    assert rows[paid.invoice_number].startswith("skipped|")
    [mail] = mailoutbox
    assert mail.to == ["siti@example.com"]
    assert mail.subject == f"Payment link for order {order.invoice_number}"
    for text in (link.payment_url, "Rp 170.000", "2 × Kopi Toraja 250g", "Dear Siti Rahayu,", "can be used until"):
        assert text in mail.body
    html, mimetype = mail.alternatives[0]
    assert mimetype == "text/html"
    assert f'<a href="{link.payment_url}">' in html
    assert deliveries(order) == [(f"Payment link {link.invoice_number} e-mailed to siti@example.com.", "admin")]
    assert deliveries(unreachable) == []
    assert not unreachable.checkout_sessions.exists()


def test_email_button_on_the_change_page_reuses_the_live_link(admin_client, order_factory, doku_simulator, mailoutbox):
    order = order_factory()
    live = services.create_payment_link(order)
    response = admin_client.post(operation_url(order, "email-link"), follow=True)
    assert "Link e-mailed to siti@example.com." in response.content.decode()
    assert order.checkout_sessions.count() == 1
    assert live.payment_url in mailoutbox[0].body
    page = admin_client.get(change_url(order)).content.decode()
    assert 'id="doku-email-link"' in page
    assert 'id="doku-live-qr"' in page
    assert "<svg" in page
    assert 'id="doku-whatsapp-link"' in page


def test_qr_code_page_and_whatsapp_are_recorded(admin_client, order_factory, doku_simulator):
    order = order_factory()
    live = services.create_payment_link(order)
    shown = admin_client.post(share_url(order, "qr"))
    assert shown.status_code == 302
    assert shown["Location"] == share_url(order, "qr")
    qr = admin_client.get(shown["Location"])
    assert qr.status_code == 200
    assert "<svg" in qr.content.decode()
    assert "Rp 240.000" in qr.content.decode()
    whatsapp = admin_client.post(share_url(order, "whatsapp"))
    # To the admin's own page that opens WhatsApp: a shop's CSP form-action would block a
    # form's redirect to wa.me.
    assert whatsapp.status_code == 302
    assert whatsapp["Location"] == share_url(order, "whatsapp")
    opener = admin_client.get(whatsapp["Location"])
    assert opener.status_code == 200
    assert opener["Referrer-Policy"] == "no-referrer"
    href = re.search(r'<a href="([^"]+)" class="button" id="doku-open-whatsapp">', opener.content.decode())
    assert href
    assert f'content="0; url={href.group(1)}"' in opener.content.decode()
    target = urlsplit(html.unescape(href.group(1)))
    assert (target.scheme, target.netloc, target.path) == ("https", "wa.me", "/6281234567890")
    assert parse_qs(target.query)["text"] == [
        f"Please pay order {order.invoice_number} (Rp 240.000) here: {live.payment_url}"
    ]
    assert deliveries(order) == [
        (f"QR code of payment link {live.invoice_number} shown.", "admin"),
        (f"Payment link {live.invoice_number} opened in WhatsApp for 0812-3456-7890.", "admin"),
    ]


def test_a_get_or_a_forged_post_records_no_delivery(order_factory, doku_simulator, admin_user):
    """A reload, or a link or form on another site (SameSite=Lax lets a top-level GET through), forges nothing."""
    order = order_factory()
    services.create_payment_link(order)
    staff = Client(enforce_csrf_checks=True)
    staff.force_login(admin_user)
    assert staff.get(share_url(order, "qr")).status_code == 200  # the QR code page itself
    assert staff.get(share_url(order, "qr")).status_code == 200
    assert staff.get(share_url(order, "whatsapp")).status_code == 200  # the page that opens WhatsApp
    assert staff.post(share_url(order, "whatsapp")).status_code == 403  # no CSRF token
    assert staff.post(share_url(order, "qr")).status_code == 403
    assert deliveries(order) == []
    # The change page's buttons are forms that POST with the token.
    page = staff.get(change_url(order)).content.decode()
    for channel in ("qr", "whatsapp"):
        form = re.search(rf'<form method="post" action="{share_url(order, channel)}"[^>]*>(.*?)</form>', page, re.S)
        assert form, channel
        assert "csrfmiddlewaretoken" in form.group(1), channel


def test_sharing_needs_a_live_link_and_the_permission(admin_client, client, order_factory, doku_simulator):
    order = order_factory()
    response = admin_client.get(share_url(order, "qr"), follow=True)
    assert "The order has no live payment link: create one first." in response.content.decode()
    assert not order.checkout_sessions.exists()
    assert deliveries(order) == []
    assert admin_client.get(share_url(order, "sms")).status_code == 404
    services.create_payment_link(order)
    viewer = User.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_order"))
    client.force_login(viewer)
    assert client.post(share_url(order, "whatsapp")).status_code == 403
    assert deliveries(order) == []
