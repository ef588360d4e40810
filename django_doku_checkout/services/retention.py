"""Retention: what the shop keeps, and for how long (``manage.py doku_checkout_prune``).

Indonesia's personal data protection law (UU PDP, No. 27/2022) expects personal data to be
kept no longer than its purpose needs, while the books must keep every payment. So rejected
notifications (requests that never verified) are deleted after
``KEEP_REJECTED_NOTIFICATIONS_DAYS``, and the customer's personal data in settled orders,
their links and their notifications is removed after ``KEEP_PERSONAL_DATA_DAYS``: names,
e-mail addresses, phone numbers and addresses. The orders themselves, their amounts,
invoice numbers, items, statuses and history are kept. The record of reconciliation's runs
is kept for :data:`KEEP_RECONCILIATION_RUNS`, and the newest run always.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from django_doku_checkout import payloads
from django_doku_checkout.conf import get_config
from django_doku_checkout.models import Notification, Order, OrderStatus, ReconciliationRun

#: Orders whose personal data may go once old enough: nothing more will happen to them.
SETTLED = (
    OrderStatus.PAID,
    OrderStatus.PARTIALLY_REFUNDED,
    OrderStatus.REFUNDED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
    OrderStatus.FAILED,
)
#: How long the record of a reconciliation run is kept: long enough to see when runs stopped.
KEEP_RECONCILIATION_RUNS = timedelta(days=30)
#: Keys of DOKU bodies that hold a person's data, wherever they appear.
PERSONAL_KEYS = frozenset({"customer", "shipping_address", "billing_address"})
#: Parts of a key that mark personal data (``customer_name``, ``email``, ``phone_number``, ``address``).
PERSONAL_KEY_PARTS = ("name", "email", "phone", "address")
#: The order's fields that hold a person's data, and what they become.
PERSONAL_ORDER_FIELDS: dict[str, Any] = {
    "customer_id": "",
    "customer_name": "",
    "customer_last_name": "",
    "customer_email": "",
    "customer_phone": "",
    "customer_address": "",
    "customer_city": "",
    "customer_state": "",
    "customer_postcode": "",
    "shipping_address": dict,
    "billing_address": dict,
}


def without_personal_data(value: Any) -> Any:
    """A copy of a DOKU body with every personal field removed; amounts, statuses and numbers stay."""
    if isinstance(value, dict):
        return {
            key: without_personal_data(item)
            for key, item in value.items()
            if key not in PERSONAL_KEYS and not any(part in str(key).lower() for part in PERSONAL_KEY_PARTS)
        }
    if isinstance(value, list):
        return [without_personal_data(item) for item in value]
    return value


@dataclass(frozen=True)
class PruneSummary:
    """What one run deleted and anonymised (or would, on a dry run)."""

    rejected_notifications: int
    orders_anonymised: int
    reconciliation_runs: int = 0

    def __str__(self) -> str:
        return (
            f"{self.rejected_notifications} rejected notification(s) deleted, "
            f"{self.orders_anonymised} order(s) stripped of personal data, "
            f"{self.reconciliation_runs} old reconciliation run(s) deleted."
        )


def rejected_notifications(now: Any = None) -> QuerySet[Notification]:
    """Rejected notifications past ``KEEP_REJECTED_NOTIFICATIONS_DAYS``."""
    cutoff = (now or timezone.now()) - timedelta(days=get_config().keep_rejected_notifications_days)
    return Notification.objects.filter(outcome=Notification.Outcome.REJECTED, received_at__lt=cutoff)


def orders_to_anonymise(now: Any = None) -> QuerySet[Order]:
    """Settled orders past ``KEEP_PERSONAL_DATA_DAYS`` that still hold personal data; none awaiting review."""
    cutoff = (now or timezone.now()) - timedelta(days=get_config().keep_personal_data_days)
    return Order.objects.filter(
        created_at__lt=cutoff, status__in=SETTLED, needs_review=False, anonymised_at__isnull=True
    )


def old_reconciliation_runs(now: Any = None) -> QuerySet[ReconciliationRun]:
    """Runs started before :data:`KEEP_RECONCILIATION_RUNS`, except the newest run of all."""
    cutoff = (now or timezone.now()) - KEEP_RECONCILIATION_RUNS
    old = ReconciliationRun.objects.filter(started_at__lt=cutoff)
    newest = ReconciliationRun.objects.order_by("-started_at", "-id").values_list("pk", flat=True).first()
    return old if newest is None else old.exclude(pk=newest)


def _anonymise(order: Order) -> None:
    for name, blank in PERSONAL_ORDER_FIELDS.items():
        setattr(order, name, blank() if callable(blank) else blank)
    order.anonymised_at = timezone.now()
    order.save(update_fields=[*PERSONAL_ORDER_FIELDS, "anonymised_at", "updated_at"])
    for link in order.checkout_sessions.all():
        link.request_body = without_personal_data(link.request_body)
        link.response_body = without_personal_data(link.response_body)
        link.request_payload = ""
        link.save(update_fields=["request_body", "response_body", "request_payload"])
    for notification in order.notifications.all():
        data = payloads.loads(notification.body.encode())
        # The body's hash and length stay: what DOKU sent can still be matched, not read.
        notification.body = json.dumps(without_personal_data(data), ensure_ascii=False) if data is not None else ""
        notification.remote_addr = None
        notification.save(update_fields=["body", "remote_addr"])


def prune(*, dry_run: bool = False) -> PruneSummary:
    """Delete old rejected notifications and old reconciliation runs; remove old settled orders' personal data."""
    now = timezone.now()
    rejected = rejected_notifications(now)
    orders = orders_to_anonymise(now)
    runs = old_reconciliation_runs(now)
    if dry_run:
        return PruneSummary(rejected.count(), orders.count(), runs.count())
    deleted, _ = rejected.delete()
    runs_deleted, _ = runs.delete()
    anonymised = 0
    for order in orders.iterator():
        with transaction.atomic():
            _anonymise(order)
        anonymised += 1
    return PruneSummary(deleted, anonymised, runs_deleted)
