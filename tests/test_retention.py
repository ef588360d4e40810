"""``doku_checkout_prune``: old rejected notifications go, old personal data goes, the books stay."""

from __future__ import annotations

from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.models import Notification, Order, OrderStatus
from django_doku_checkout.payloads import encode_body


def age(queryset, days: int, field: str = "created_at") -> None:
    queryset.update(**{field: timezone.now() - timedelta(days=days)})


def test_prune_deletes_old_rejected_notifications_and_keeps_the_rest(db, doku_settings, capsys):
    doku_settings(KEEP_REJECTED_NOTIFICATIONS_DAYS=30)
    old, recent = (Notification.objects.create(outcome=Notification.Outcome.REJECTED) for _ in range(2))
    processed = Notification.objects.create(outcome=Notification.Outcome.PROCESSED)
    age(Notification.objects.filter(pk__in=[old.pk, processed.pk]), 31, "received_at")

    call_command("doku_checkout_prune", "--dry-run")
    assert "Dry run, nothing changed: 1 rejected notification(s) deleted" in capsys.readouterr().out
    assert Notification.objects.count() == 3

    call_command("doku_checkout_prune")
    assert set(Notification.objects.values_list("pk", flat=True)) == {recent.pk, processed.pk}


def test_prune_removes_personal_data_from_old_settled_orders_only(order_factory, doku_simulator, doku_settings):
    doku_settings(KEEP_PERSONAL_DATA_DAYS=365)
    paid, pending, flagged, young = (
        order_factory(customer_address="Jl. Sudirman 1", shipping_address={"first_name": "Siti", "city": "Jakarta"})
        for _ in range(4)
    )
    for order in (paid, flagged, young):
        doku_simulator.pay(order)
    services.create_payment_link(pending)
    Order.objects.filter(pk=flagged.pk).update(needs_review=True)
    age(Order.objects.exclude(pk=young.pk), 400)

    call_command("doku_checkout_prune")

    paid.refresh_from_db()
    assert (paid.customer_name, paid.customer_email, paid.customer_phone, paid.customer_address) == ("", "", "", "")
    assert paid.shipping_address == {}
    assert paid.anonymised_at is not None
    # The books stay: invoice, amount, status, items and history.
    assert (paid.status, paid.amount, paid.line_items.count()) == (OrderStatus.PAID, 240_000, 2)
    assert paid.events.exists()
    link = paid.checkout_sessions.get()
    assert "customer" not in link.request_body
    assert link.request_body["order"]["amount"] == 240_000
    notification = paid.notifications.get()
    assert "Siti" not in notification.body
    assert '"SUCCESS"' in notification.body
    assert notification.body_sha256  # what DOKU sent can still be matched against its hash
    for kept in (pending, flagged, young):
        kept.refresh_from_db()
        assert kept.customer_email == "siti@example.com"
        assert kept.anonymised_at is None


def test_a_notification_that_was_not_rejected_is_never_deleted(order_factory):
    order = order_factory()
    body = encode_body({"order": {"invoice_number": order.invoice_number, "amount": 1}})
    Notification.objects.create(outcome=Notification.Outcome.FLAGGED, body=body.decode(), signature_valid=True)
    age(Notification.objects.all(), 9999, "received_at")
    call_command("doku_checkout_prune")
    assert Notification.objects.count() == 1
