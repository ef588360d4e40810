"""Shopper views, the notification endpoint and the template tags (in-process simulator)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.signals import pre_save
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_doku_checkout import services, signatures
from django_doku_checkout.models import Notification, OrderEvent, OrderStatus
from django_doku_checkout.payloads import encode_body
from django_doku_checkout.services.notifications import reprocess_notification
from django_doku_checkout.testing import CLIENT_ID, SECRET_KEY

NOTIFY = reverse("doku_checkout:notification")


def signed_post(
    body: bytes,
    *,
    path=NOTIFY,
    target=None,
    secret=SECRET_KEY,
    client_id=CLIENT_ID,
    timestamp=None,
    request_id=None,
    **header_overrides,
):
    headers = signatures.signed_headers(
        secret, client_id=client_id, target=target or path, body=body, request_id=request_id, timestamp=timestamp
    )
    del headers["Content-Type"]  # the test client sets it
    headers.update(header_overrides)
    return Client().post(path, data=body, content_type="application/json", headers=headers)


def notification_body(invoice, status="SUCCESS", amount=240000, channel="VIRTUAL_ACCOUNT_BCA") -> bytes:
    return encode_body(
        {
            "order": {"invoice_number": invoice, "amount": amount},
            "transaction": {"status": status, "date": "2026-01-01T00:00:00Z"},
            "service": {"id": "VIRTUAL_ACCOUNT"},
            "channel": {"id": channel},
        }
    )


@pytest.fixture
def linked_order(doku_simulator, order_factory):
    order = order_factory()
    session = services.create_payment_link(order)
    order.refresh_from_db()
    return order, session


# --- notification endpoint ------------------------------------------------------------------------


def test_valid_notification_pays_and_is_stored(
    linked_order, django_assert_max_num_queries, django_capture_on_commit_callbacks, signal_log
):
    order, session = linked_order
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_post(notification_body(session.invoice_number))
    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.paid_at
    stored = Notification.objects.get()
    assert stored.outcome == "processed"
    assert stored.signature_valid
    assert stored.order == order
    assert stored.checkout_session == session
    assert stored.headers["Signature"] == "[redacted]"
    assert stored.headers["Client-Id"] == CLIENT_ID
    event = order.events.get(new_status="paid")
    assert (event.source, event.notification) == (OrderEvent.Source.NOTIFICATION, stored)
    assert [name for name, *_ in signal_log] == ["order_status_changed", "payment_succeeded"]


def test_notification_query_count(linked_order, django_assert_num_queries):
    order, session = linked_order
    body = notification_body(session.invoice_number)
    # insert the log; savepoint; lock the order by its link's invoice; read the link; save
    # the order, its event, the link and the log's outcome (one statement on PostgreSQL,
    # four elsewhere); release. None of it grows with the order table.
    with django_assert_num_queries(6 if connection.vendor == "postgresql" else 9):
        assert signed_post(body).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"secret": "wrong-secret"}, "Signature does not match"),
        ({"target": "/other/path/"}, "Signature does not match"),
        ({"client_id": "MCH-SOMEONE-ELSE"}, "Client-Id does not match"),
        ({"timestamp": "2020-08-11T08:45:42Z"}, "outside the accepted window"),
        ({"timestamp": "yesterday"}, "not a UTC or offset ISO 8601 time"),
        ({"Signature": ""}, "headers are all required"),
    ],
)
def test_bad_notifications_are_401_stored_and_change_nothing(linked_order, kwargs, reason):
    order, session = linked_order
    response = signed_post(notification_body(session.invoice_number), **kwargs)
    assert response.status_code == 401
    assert reason in response.content.decode()
    assert "HMACSHA256=" not in response.content.decode()
    stored = Notification.objects.get()
    assert stored.outcome == "rejected"
    assert stored.signature_valid is False
    assert reason in stored.detail
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_tampered_body_does_not_verify(linked_order):
    order, session = linked_order
    body = notification_body(session.invoice_number)
    timestamp = signatures.format_timestamp()
    signature = signatures.sign(
        SECRET_KEY, client_id=CLIENT_ID, request_id="r1", timestamp=timestamp, target=NOTIFY, body=body
    )
    response = Client().post(
        NOTIFY,
        data=body.replace(b"240000", b"240001"),
        content_type="application/json",
        headers={"Client-Id": CLIENT_ID, "Request-Id": "r1", "Request-Timestamp": timestamp, "Signature": signature},
    )
    assert response.status_code == 401


def test_notification_path_setting_for_proxies(linked_order, settings):
    order, session = linked_order
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "NOTIFICATION_PATH": "/shop/doku/notification/"}
    assert signed_post(notification_body(session.invoice_number)).status_code == 401
    ok = signed_post(notification_body(session.invoice_number), target="/shop/doku/notification/")
    assert ok.status_code == 200


def test_previous_secret_is_accepted_while_rotating(linked_order, settings):
    order, session = linked_order
    settings.DOKU_CHECKOUT = {
        **settings.DOKU_CHECKOUT,
        "SECRET_KEY": "new-secret",
        "PREVIOUS_SECRET_KEYS": [SECRET_KEY],
    }
    assert signed_post(notification_body(session.invoice_number)).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "outcome"),
    [
        (b"not json", 400, "rejected"),
        (b'{"order": {"invoice_number": 5}}', 400, "rejected"),
        (b"[]", 400, "rejected"),
    ],
)
def test_unreadable_bodies_are_400(linked_order, body, status, outcome):
    response = signed_post(body)
    assert response.status_code == status
    assert Notification.objects.get().outcome == outcome


def test_unknown_invoice_is_404(linked_order):
    response = signed_post(notification_body("INV-NOT-OURS"))
    assert response.status_code == 404
    assert Notification.objects.get().outcome == "unknown_order"


def test_oversized_body_is_413_and_kept_truncated(linked_order, settings):
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "NOTIFICATION_MAX_BYTES": 2048}
    response = signed_post(b'{"pad": "' + b"x" * 5000 + b'"}')
    assert response.status_code == 413
    assert len(Notification.objects.get().body) == 2048


def test_get_is_405(client):
    assert client.get(NOTIFY).status_code == 405


def test_processing_failure_is_500_and_the_raw_notification_survives(linked_order):
    order, session = linked_order

    def broken_receiver(sender, instance, **kwargs):
        raise RuntimeError("database trouble")

    pre_save.connect(broken_receiver, sender=OrderEvent, dispatch_uid="broken")
    try:
        response = signed_post(notification_body(session.invoice_number))
    finally:
        pre_save.disconnect(sender=OrderEvent, dispatch_uid="broken")
    assert response.status_code == 500
    stored = Notification.objects.get()
    assert stored.outcome == "failed"
    assert "RuntimeError: database trouble" in stored.detail
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING  # rolled back with the failure
    result = reprocess_notification(stored)
    assert result.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_expired_notification_expires_and_a_refund_without_an_amount_is_flagged(linked_order):
    order, session = linked_order
    assert signed_post(notification_body(session.invoice_number, "EXPIRED")).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.EXPIRED
    assert signed_post(notification_body(session.invoice_number, "SUCCESS")).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # a late payment is still money taken
    # A REFUNDED without refund.amount (nor a FULL_REFUND or VOID type) refunds nothing by itself: staff look.
    assert signed_post(notification_body(session.invoice_number, "REFUNDED")).status_code == 200
    order.refresh_from_db()
    assert (order.status, order.needs_review) == (OrderStatus.PAID, True)
    assert "of no amount; nothing was recorded" in order.review_reason
    assert not order.refunds.exists()


@pytest.mark.parametrize("status", ["VOIDED", "CHARGEBACK"])  # a released authorization; a status DOKU may add
def test_unknown_status_is_recorded_only(linked_order, status):
    order, session = linked_order
    assert signed_post(notification_body(session.invoice_number, status)).status_code == 200
    assert Notification.objects.get().outcome == "ignored"
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING


def test_second_success_from_another_session_is_flagged_as_double_payment(linked_order, doku_simulator):
    order, first = linked_order
    first.expires_at = timezone.now() - timedelta(minutes=1)
    first.save()
    second = services.create_payment_link(order)
    assert signed_post(notification_body(second.invoice_number)).status_code == 200
    assert signed_post(notification_body(first.invoice_number)).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.needs_review
    assert "double payment" in order.review_reason
    assert list(Notification.objects.order_by("id").values_list("outcome", flat=True)) == ["processed", "flagged"]


# --- shopper views --------------------------------------------------------------------------------


def test_pay_reuses_the_live_session(linked_order, client, django_assert_num_queries):
    order, session = linked_order
    url = reverse("doku_checkout:pay", args=[order.public_id])
    # the order; savepoint; lock it; read its links (with its line items, on PostgreSQL); release
    with django_assert_num_queries(5):
        response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == session.payment_url
    assert client.get(url)["Location"] == session.payment_url
    assert order.checkout_sessions.count() == 1


def test_pay_for_a_paid_order_goes_to_the_result_page(order_factory, client, doku_simulator):
    order = order_factory(status=OrderStatus.PAID)
    response = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
    assert response["Location"] == reverse("doku_checkout:result", args=[order.public_id])
    assert not order.checkout_sessions.exists()


def test_pay_refuses_to_redirect_to_a_foreign_host(order_factory, client, doku_simulator, settings):
    order = order_factory()
    services.create_payment_link(order)
    order.checkout_sessions.update(payment_url="https://evil.example/phish")
    response = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
    assert response.status_code == 502
    assert b"evil.example" not in response.content


def test_pay_with_invalid_order_data_shows_an_error_page(order_factory, client, doku_simulator):
    order = order_factory(items=[("Kopi", 10_000, 1)], amount=99_000)
    response = client.post(reverse("doku_checkout:pay", args=[order.public_id]))
    assert response.status_code == 400
    assert b"cannot be paid online" in response.content


def test_unknown_or_sequential_ids_are_404(client, order_factory, doku_simulator):
    order = order_factory()
    assert client.get(f"/doku/pay/{order.pk}/").status_code == 404
    assert client.get(reverse("doku_checkout:return", args=[uuid.uuid4()])).status_code == 404


def test_return_page_shows_database_status_and_ignores_query_parameters(linked_order, client):
    order, session = linked_order
    url = reverse("doku_checkout:return", args=[order.public_id]) + "?status=SUCCESS&paid=1"
    response = client.get(url)
    assert response.status_code == 200
    assert b"doku-order-status-pending" in response.content
    assert b"Pay with DOKU" in response.content


def test_return_before_the_notification_asks_the_status_api(linked_order, client, doku_simulator):
    order, session = linked_order
    simulated = doku_simulator.session_for(order)
    simulated.status, simulated.channel = "SUCCESS", "VIRTUAL_ACCOUNT_BCA"  # paid at DOKU, notification not yet in
    response = client.get(reverse("doku_checkout:return", args=[order.public_id]))
    assert b"doku-order-status-paid" in response.content
    assert order.events.filter(new_status="paid", source="status_check").exists()


def test_status_checks_from_the_return_page_are_throttled(linked_order, client, settings, doku_simulator):
    order, session = linked_order
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "STATUS_CHECK_INTERVAL": 60}
    from django.core.cache import cache

    cache.clear()
    url = reverse("doku_checkout:result", args=[order.public_id])
    client.get(url)
    simulated = doku_simulator.session_for(order)
    simulated.status, simulated.channel = "SUCCESS", "VIRTUAL_ACCOUNT_BCA"
    assert b"doku-order-status-pending" in client.get(url).content  # throttled: no second check
    cache.clear()
    assert b"doku-order-status-paid" in client.get(url).content


def test_no_status_check_sooner_than_60_seconds_after_the_link(linked_order, client, settings, doku_simulator):
    """DOKU asks for Status API checks no sooner than 60 s after payment, which comes after the link."""
    order, session = linked_order
    # DOKU's own environment (the simulator answers at API_BASE_URL still): the simulator is exempt.
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "STATUS_CHECK_INTERVAL": 5, "ENVIRONMENT": "sandbox"}
    from django.core.cache import cache

    cache.clear()
    simulated = doku_simulator.session_for(order)
    simulated.status, simulated.channel = "SUCCESS", "VIRTUAL_ACCOUNT_BCA"
    order.checkout_sessions.update(created_at=timezone.now() - timedelta(seconds=50))
    url = reverse("doku_checkout:api_status", args=[order.public_id])
    assert client.get(url).json()["status"] == "pending"
    order.checkout_sessions.update(created_at=timezone.now() - timedelta(seconds=61))
    assert client.get(url).json()["status"] == "paid"


def test_cancel_page_says_the_shopper_can_pay_later(linked_order, client):
    order, _ = linked_order
    response = client.get(reverse("doku_checkout:cancel", args=[order.public_id]))
    assert b"You left the payment page" in response.content


def test_template_tags(order_factory, rf, doku_simulator):
    order = order_factory()
    request = rf.get("/")
    html = Template("{% load doku_checkout %}{% doku_pay_button order %}{% doku_order_status order %}").render(
        Context({"order": order, "request": request})
    )
    assert f'action="/doku/pay/{order.public_id}/"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert "doku-order-status-created" in html
    order.status = OrderStatus.PAID
    paid = Template("{% load doku_checkout %}{% doku_pay_button order %}").render(Context({"order": order}))
    assert paid == ""


def test_notification_ignores_atomic_requests(linked_order, monkeypatch):
    # The connection's own dict, restored afterwards (the settings fixture restores only top-level names).
    monkeypatch.setitem(connection.settings_dict, "ATOMIC_REQUESTS", True)
    order, session = linked_order
    assert signed_post(notification_body(session.invoice_number)).status_code == 200


def test_json_body_is_stored_as_received(linked_order):
    order, session = linked_order
    body = notification_body(session.invoice_number)
    signed_post(body)
    assert json.loads(Notification.objects.get().body) == json.loads(body)


def test_confirm_with_status_api_trusts_doku_not_the_notification(linked_order, settings, doku_simulator):
    order, session = linked_order
    settings.DOKU_CHECKOUT = {**settings.DOKU_CHECKOUT, "CONFIRM_WITH_STATUS_API": True}
    # DOKU's Status API still says PENDING: 503, so DOKU sends it again later.
    assert signed_post(notification_body(session.invoice_number)).status_code == 503
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING
    simulated = doku_simulator.session_for(order)
    simulated.status, simulated.channel = "SUCCESS", "VIRTUAL_ACCOUNT_BCA"
    assert signed_post(notification_body(session.invoice_number)).status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert order.events.get(new_status="paid").source == "notification"


@pytest.mark.parametrize(
    ("sent_ago", "form", "status"),
    [
        (timedelta(minutes=30), "%Y-%m-%dT%H:%M:%SZ", 200),  # DOKU's first retry, original headers
        (timedelta(hours=18, minutes=30), "%Y-%m-%dT%H:%M:%SZ", 200),  # its last retry (+30 min, +6 h, +12 h)
        (timedelta(days=4), "%Y-%m-%dT%H:%M:%S.000Z", 200),  # a resend from the back office
        (timedelta(hours=1), "+07:00", 200),  # a SNAP-style offset
        (timedelta(days=8), "%Y-%m-%dT%H:%M:%SZ", 401),  # past NOTIFICATION_MAX_AGE (7 days)
    ],
)
def test_dokus_retries_and_resends_with_their_original_headers_are_accepted(linked_order, sent_ago, form, status):
    order, session = linked_order
    sent_at = timezone.now() - sent_ago
    if form == "+07:00":
        from datetime import timezone as tz

        timestamp = sent_at.astimezone(tz(timedelta(hours=7))).strftime("%Y-%m-%dT%H:%M:%S+07:00")
    else:
        timestamp = sent_at.strftime(form)
    response = signed_post(notification_body(session.invoice_number), timestamp=timestamp)
    assert response.status_code == status
    order.refresh_from_db()
    assert (order.status == OrderStatus.PAID) is (status == 200)


def test_waiting_page_polls_and_refreshes_itself_a_bounded_number_of_times(linked_order, client, doku_settings):
    order, _ = linked_order
    doku_settings(WAITING_PAGE_REFRESHES=3)
    url = reverse("doku_checkout:return", args=[order.public_id])
    page = client.get(url).content.decode()
    assert f'data-doku-poll="{reverse("doku_checkout:api_status", args=[order.public_id])}"' in page
    assert '<script src="/static/django_doku_checkout/waiting.js" defer></script>' in page
    assert f'<noscript><meta http-equiv="refresh" content="10;url={url}?refresh=1"></noscript>' in page
    assert f"url={url}?refresh=3" in client.get(url + "?refresh=2").content.decode()
    assert "http-equiv" not in client.get(url + "?refresh=3").content.decode()  # the bound is reached
    assert "http-equiv" not in client.get(url + "?refresh=99999999").content.decode()
    assert "http-equiv" not in client.get(url + "?refresh=00000000000029").content.decode()  # 29, not 0
    assert f"url={url}?refresh=1" in client.get(url + "?refresh=%C2%B2").content.decode()  # "²": not a number
    cancel = client.get(reverse("doku_checkout:cancel", args=[order.public_id])).content.decode()
    assert "data-doku-poll" not in cancel
    assert "http-equiv" not in cancel


def test_a_failed_attempt_says_so_and_offers_to_try_again(linked_order, client, doku_simulator):
    order, _ = linked_order
    doku_simulator.fail(order)
    page = client.get(reverse("doku_checkout:return", args=[order.public_id])).content.decode()
    assert "The payment failed. You can try again" in page
    assert ">Try again</button>" in page
    assert "We are waiting for the payment" not in page


@pytest.mark.parametrize("order_url", ["doku_checkout:result", "tests.test_views.shop_order_url"])
def test_back_to_your_order_follows_order_url(linked_order, client, doku_settings, order_url):
    order, _ = linked_order
    doku_settings(ORDER_URL=order_url)
    expected = (
        reverse("doku_checkout:result", args=[order.public_id])
        if ":" in order_url
        else f"/shop/orders/{order.invoice_number}/"
    )
    for name in ("return", "cancel", "result"):
        page = client.get(reverse(f"doku_checkout:{name}", args=[order.public_id])).content.decode()
        assert f'<a class="doku-back-to-order" href="{expected}">Back to your order</a>' in page


def test_no_back_link_without_order_url(linked_order, client):
    order, _ = linked_order
    assert (
        "doku-back-to-order" not in client.get(reverse("doku_checkout:return", args=[order.public_id])).content.decode()
    )


def shop_order_url(order):
    return f"/shop/orders/{order.invoice_number}/"


# --- a shop on naive local times (USE_TZ = False) -------------------------------------------------


def test_a_notification_is_verified_and_applied_on_naive_local_times(client, settings, doku_simulator, order_factory):
    """Request-Timestamp's window is measured in absolute time, whatever USE_TZ says (it was a 500 for every notification)."""
    settings.USE_TZ = False
    order = order_factory()
    link = services.create_payment_link(order)  # the simulator checks our Request-Timestamp the same way
    path = reverse("doku_checkout:notification")
    body = encode_body(
        {
            "order": {"invoice_number": link.invoice_number, "amount": order.amount},
            "transaction": {"status": "SUCCESS", "date": "2026-12-04T10:00:00Z"},
            "service": {"id": "VIRTUAL_ACCOUNT"},
            "channel": {"id": "VIRTUAL_ACCOUNT_BCA"},
        }
    )
    headers = signatures.signed_headers(SECRET_KEY, client_id=CLIENT_ID, target=path, body=body)
    response = client.post(
        path,
        data=body,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Notification.objects.get().outcome == Notification.Outcome.PROCESSED
