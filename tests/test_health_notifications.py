"""What the health check takes as proof that DOKU's notifications reach the shop, over HTTP against the simulator.

A wrong secret key (or a proxy prefix) after a deploy makes every notification rejected
while the return page still records payments through the Status API: the check must say
so within its next run. A forged request from the internet, a notification for an invoice
the shop does not know (the doctor's ``DOCTOR-`` link) and one payment recovered late are
not the same thing, and are reported as what they are.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from django_doku_checkout import services
from django_doku_checkout.models import Notification, OrderStatus
from django_doku_checkout.services.health import Finding, health_report
from tests.doku import forged_notification, notification_sender, paid_quietly
from tests.test_health import findings, health, paid_with_notification, reconciled


def report_in(minutes: int) -> dict[str, Finding]:
    """The report as the health check will read it ``minutes`` from now."""
    return {finding.name: finding for finding in health_report(timezone.now() + timedelta(minutes=minutes)).findings}


def test_every_notification_rejected_since_a_deploy_is_reported(live_doku, order_factory):
    paid_with_notification(order_factory)  # the last notification that verified: just before the deploy
    reconciled()
    for _ in range(3):
        order = order_factory()
        services.create_payment_link(order)
        paid_quietly(order)
        assert forged_notification(live_doku, order) == 401  # DOKU's notification, refused: the key is wrong
        services.check_status(order)  # the shopper's return page asks the Status API
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID
    reconciled()

    found = report_in(0)["notifications"]  # the next run: DOKU's notifications were refused, no need to wait

    assert found.status == "warning", found.message
    assert found.count == 3
    assert "3 notification(s) were rejected since" in found.message
    assert "SECRET_KEY" in found.message


def test_a_payment_recorded_by_the_return_page_waits_for_its_notification(live_doku, order_factory):
    paid_with_notification(order_factory)
    reconciled()
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    services.check_status(order)  # the return page was quicker than DOKU's notification

    assert report_in(0)["notifications"].status == "ok"  # it is on its way
    assert report_in(11)["notifications"].status == "warning"  # it never came


def test_a_lone_forged_request_is_not_a_finding(live_doku, order_factory):
    order = paid_with_notification(order_factory)
    reconciled()
    assert forged_notification(live_doku, order) == 401  # someone on the internet
    assert Notification.objects.filter(outcome=Notification.Outcome.REJECTED).count() == 1

    assert report_in(20)["notifications"].status == "ok"


def test_a_verified_notification_for_an_unknown_invoice_is_not_proof_doku_reaches_the_shop(live_doku, order_factory):
    """Only a notification the shop answered 404 (an invoice it does not have: another system on the same
    DOKU account) arrived while a payment was recovered: it proves nothing about this shop's links."""
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    reconciled()
    stranger = order_factory()
    services.create_payment_link(stranger)
    send = notification_sender(live_doku, stranger)  # DOKU's signed body for it, sent below
    stranger.delete()
    assert send() == 404
    assert Notification.objects.filter(signature_valid=True, outcome=Notification.Outcome.UNKNOWN_ORDER).exists()

    found = report_in(11)["notifications"]

    assert found.status == "warning", found.message
    assert "No verified notification yet" in found.message


def test_a_late_duplicate_notification_is_proof(live_doku, order_factory):
    """The return page recorded the payment first; DOKU's notification then arrives as a duplicate."""
    paid_with_notification(order_factory)
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)
    services.check_status(order)
    assert notification_sender(live_doku, order)() == 200
    assert Notification.objects.filter(outcome=Notification.Outcome.DUPLICATE).exists()
    reconciled()

    assert report_in(20)["notifications"].status == "ok"


def test_a_recovered_payment_warns_until_a_notification_verifies(live_doku, order_factory):
    """One late notification recovered by reconciliation must not page for 24 hours."""
    paid_with_notification(order_factory)
    order = order_factory()
    services.create_payment_link(order)
    paid_quietly(order)  # DOKU took the money; its notification never arrived
    reconciled()
    code, output = health("--json")
    assert code == 1
    assert findings(output)["recovered_payments"]["status"] == "warning"

    paid_with_notification(order_factory)  # DOKU's notifications arrive again

    code, output = health("--json")
    recovered = findings(output)["recovered_payments"]
    assert code == 0, output
    assert (recovered["status"], recovered["count"]) == ("ok", 1)
    assert recovered["invoice_numbers"] == [order.invoice_number]
    assert "notifications verified since" in recovered["message"]
