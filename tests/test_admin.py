from __future__ import annotations

import pytest
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.models import Notification

pytestmark = pytest.mark.django_db


def test_order_changelist_and_change_page_render_without_secrets(admin_client, order_factory, doku_simulator):
    order = order_factory()
    services.create_payment_link(order)
    changelist = admin_client.get(reverse("admin:django_doku_checkout_order_changelist"))
    assert changelist.status_code == 200 and order.invoice_number.encode() in changelist.content
    page = admin_client.get(reverse("admin:django_doku_checkout_order_change", args=[order.pk]))
    assert page.status_code == 200
    assert order.checkout_sessions.get().payment_url.encode() in page.content
    assert b"simulator-secret-for-tests" not in page.content


def test_notification_log_is_read_only(admin_client, order_factory, doku_simulator):
    order = order_factory()
    doku_simulator.pay(order)
    notification = Notification.objects.get()
    assert admin_client.get(reverse("admin:django_doku_checkout_notification_add")).status_code == 403
    page = admin_client.get(reverse("admin:django_doku_checkout_notification_change", args=[notification.pk]))
    assert page.status_code == 200 and b'name="outcome"' not in page.content
    assert (
        admin_client.post(reverse("admin:django_doku_checkout_notification_delete", args=[notification.pk])).status_code
        == 403
    )
