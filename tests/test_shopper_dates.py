"""Times a shopper reads (the payment link's e-mail, the order's page) are in the shop's zone, with the zone named.

DOKU's links expire in WIB (UTC+7). A project that never set ``TIME_ZONE`` (``startproject``
writes ``"UTC"``) shows WIB; a shop in Makassar that set ``Asia/Makassar`` shows WITA.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import translation

from django_doku_checkout import services

pytestmark = pytest.mark.django_db

#: A moment DOKU said a link expires, 13:26 in Jakarta.
EXPIRY = datetime(2030, 12, 4, 6, 26, tzinfo=UTC)


@pytest.fixture
def pending_order(order_factory, doku_simulator):
    order = order_factory()
    link = services.create_payment_link(order)
    order.checkout_sessions.filter(pk=link.pk).update(expires_at=EXPIRY)
    order.refresh_from_db()
    return order


@pytest.mark.parametrize(
    ("time_zone", "language", "sentence"),
    [
        ("UTC", "en", "The link can be used until Dec. 4, 2030, 1:26 p.m. WIB."),
        ("Asia/Jakarta", "en", "The link can be used until Dec. 4, 2030, 1:26 p.m. WIB."),
        ("UTC", "id", "Tautan dapat digunakan sampai 4 Des. 2030, 13.26 WIB."),
        ("Asia/Makassar", "en", "The link can be used until Dec. 4, 2030, 2:26 p.m. WITA."),
    ],
)
def test_the_payment_link_email_names_the_expiry_in_the_shops_zone(
    settings, pending_order, mailoutbox, time_zone, language, sentence
):
    settings.TIME_ZONE = time_zone

    with translation.override(language):
        services.email_payment_link(pending_order)

    [mail] = mailoutbox
    assert sentence in mail.body.splitlines()
    html, _ = mail.alternatives[0]
    assert f"<p>{sentence}</p>" in html


@pytest.mark.parametrize(
    ("time_zone", "sentence"),
    [
        ("UTC", "The link can be used until Dec. 4, 2030, 1:26 p.m. WIB."),
        ("Asia/Makassar", "The link can be used until Dec. 4, 2030, 2:26 p.m. WITA."),
    ],
)
def test_the_waiting_order_page_names_the_expiry_in_the_shops_zone(
    settings, client, pending_order, time_zone, sentence
):
    settings.TIME_ZONE = time_zone

    for outcome in ("return", "cancel"):
        page = client.get(reverse(f"doku_checkout:{outcome}", args=[pending_order.public_id]))

        assert page.status_code == 200
        assert f'<p class="doku-checkout-expiry">{sentence}</p>' in page.content.decode()


def test_a_paid_order_page_names_no_expiry(client, pending_order, doku_simulator):
    doku_simulator.pay(pending_order)

    page = client.get(reverse("doku_checkout:return", args=[pending_order.public_id]))

    assert "Thank you! Your payment was received." in page.content.decode()
    assert "doku-checkout-expiry" not in page.content.decode()
