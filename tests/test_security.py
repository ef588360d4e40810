"""The security review, one test per item: redirects, secrets, constant time, CSRF, guessing."""

from __future__ import annotations

import hmac
import json
import logging

import pytest
from django.core import serializers
from django.test import Client
from django.urls import reverse

from django_doku_checkout import services
from django_doku_checkout.models import CheckoutSession, Notification, Order
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.services import payment_url_allowed
from django_doku_checkout.testing import SECRET_KEY
from django_doku_checkout.views import notification
from tests.test_views import NOTIFY, signed_post

pytestmark = pytest.mark.django_db

CARD = "4111111111111111"


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://checkout.doku.com/checkout-link-v2/abc", True),
        ("https://sandbox.doku.com/checkout-link-v2/abc", True),
        ("http://sandbox.doku.com/checkout-link-v2/abc", False),  # no plain http to DOKU
        ("https://doku.com.evil.example/x", False),
        ("https://evil.example/?next=https://checkout.doku.com", False),
        ("https://checkout.doku.com@evil.example/x", False),
        ("https://evildoku.com/x", False),
        ("javascript:alert(1)", False),
        ("//evil.example/x", False),
        ("http://testserver/doku-simulator/pay/abc/", True),  # the configured API host (the simulator)
        ("http://testserver.evil.example/doku-simulator/pay/abc/", False),
    ],
)
def test_shoppers_are_only_redirected_to_doku_or_the_configured_api_host(doku_simulator, url, allowed):
    assert payment_url_allowed(url) is allowed


def test_no_secret_signature_or_card_number_is_logged_stored_or_shown(
    order_factory, doku_simulator, admin_client, caplog
):
    caplog.set_level(logging.DEBUG)
    order = order_factory()
    session = services.create_payment_link(order)
    body = encode_body(
        {
            "order": {"invoice_number": session.invoice_number, "amount": order.amount},
            "transaction": {"status": "SUCCESS"},
            "channel": {"id": "CREDIT_CARD"},
            "card_payment": {"card_number": CARD, "card_masked": "411111******1111"},
        }
    )
    accepted = signed_post(body)
    forged = signed_post(body, secret="not-the-secret")
    assert (accepted.status_code, forged.status_code) == (200, 401)

    # The stored notification is the evidence, as DOKU sent it; everything else is masked.
    assert all(CARD in body for body in Notification.objects.values_list("body", flat=True))
    notification_fields = [field.name for field in Notification._meta.fields if field.name != "body"]
    stored = serializers.serialize("json", [*CheckoutSession.objects.all(), order]) + json.dumps(
        list(Notification.objects.values(*notification_fields)), default=str
    )
    pages = "".join(
        admin_client.get(url).content.decode()
        for url in [
            reverse("admin:django_doku_checkout_order_change", args=[order.pk]),
            reverse("admin:django_doku_checkout_notification_changelist"),
            *[
                reverse("admin:django_doku_checkout_notification_change", args=[pk])
                for pk in Notification.objects.values_list("pk", flat=True)
            ],
        ]
    )
    sent_signatures = [response.wsgi_request.headers["Signature"] for response in (accepted, forged)]
    for text in (caplog.text, stored, pages):
        assert SECRET_KEY not in text
        assert CARD not in text
        for signature in sent_signatures:
            assert signature.removeprefix("HMACSHA256=") not in text
    assert "411111******1111" in pages  # masked, still useful to staff


def test_signatures_and_client_ids_are_compared_in_constant_time(order_factory, doku_simulator, monkeypatch):
    compared = []
    compare_digest = hmac.compare_digest

    def spy(a, b):
        compared.append((type(a), type(b)))
        return compare_digest(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # both modules call hmac.compare_digest
    order = order_factory()
    session = services.create_payment_link(order)
    signed_post(encode_body({"order": {"invoice_number": session.invoice_number}, "transaction": {"status": "X"}}))
    assert len(compared) >= 2  # the client id and the signature


def test_the_notification_endpoint_is_exempt_from_csrf_only(order_factory, doku_simulator, settings):
    assert getattr(notification, "csrf_exempt", False) is True
    strict = Client(enforce_csrf_checks=True)
    order = order_factory()
    # The shopper's pay button needs its CSRF token ...
    assert strict.post(reverse("doku_checkout:pay", args=[order.public_id])).status_code == 403
    # ... the notification does not, but every other middleware still applies to it.
    assert strict.post(NOTIFY, data=b"{}", content_type="application/json").status_code == 401
    settings.SECURE_SSL_REDIRECT = True
    assert Client(enforce_csrf_checks=True).post(NOTIFY, data=b"{}", content_type="application/json").status_code == 301
    assert Client().get(NOTIFY, secure=True).status_code == 405


def test_admin_operations_need_csrf_and_staff(order_factory, doku_simulator, admin_user):
    order = order_factory()
    url = reverse("admin:django_doku_checkout_order_operation", args=[order.pk, "create-link"])
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(url).status_code == 403
    anonymous = Client().post(url)
    assert anonymous.status_code == 302
    assert "/login/" in anonymous["Location"]
    assert not order.checkout_sessions.exists()


def test_orders_are_not_reachable_by_guessing(order_factory, doku_simulator, client):
    order = order_factory()
    for name in ("doku_checkout:pay", "doku_checkout:return", "doku_checkout:cancel", "doku_checkout:result"):
        real = reverse(name, args=[order.public_id])
        guessed = real.replace(str(order.public_id), str(order.pk))
        assert client.get(guessed).status_code == 404
    assert Order.objects.filter(public_id=order.public_id).exists()
    assert str(order.public_id) != str(order.pk)
    assert len(str(order.public_id)) == 36
