"""The facts the health check judges, one bounded query each: an indexed filter, a count that
stops at :data:`COUNT_LIMIT`, a handful of rows. :mod:`~django_doku_checkout.services.health` turns
them into findings; the dashboard counts the same rows over time through them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from django_doku_checkout.models import (
    Delivery,
    Notification,
    Order,
    OrderEvent,
    OrderStatus,
    ReconciliationRun,
    Refund,
)
from django_doku_checkout.models.runs import CLAIM_LEASE
from django_doku_checkout.services.deliveries import failed_deliveries

#: Counts stop here: the query stays bounded whatever the table holds ("10000 or more").
COUNT_LIMIT = 10_000
#: What a verified notification's outcome must be to prove DOKU reaches the shop: it matched one of
#: the shop's payment links, or the doctor's (``ignored``). Not ``unknown_order`` (an invoice this
#: shop does not have, answered 404), ``rejected`` or ``failed``.
REACHED = ("processed", "duplicate", "ignored", "flagged", "unconfirmed")


def bounded_count(queryset: QuerySet[Any]) -> int:
    """How many rows ``queryset`` has, counting no further than :data:`COUNT_LIMIT`."""
    return queryset.values("pk")[:COUNT_LIMIT].count()


def last_verified_notification() -> Notification | None:
    """The newest notification that verified and matched one of the shop's payment links (:data:`REACHED`).

    It is the proof that DOKU reaches the shop, with the right key and path.
    """
    return (
        Notification.objects.filter(signature_valid=True, outcome__in=REACHED)
        .only("received_at", "invoice_number")
        .order_by("-received_at", "-id")
        .first()
    )


def rejected_notifications(since: datetime) -> QuerySet[Notification]:
    """Notifications refused since ``since`` (signature or Client-Id wrong)."""
    return Notification.objects.filter(outcome=Notification.Outcome.REJECTED, received_at__gte=since)


def payments(since: datetime, until: datetime) -> QuerySet[OrderEvent]:
    """Orders that became paid between ``since`` and ``until``, by any source."""
    return OrderEvent.objects.filter(new_status=OrderStatus.PAID, created_at__gte=since, created_at__lt=until)


def settled_by_reconciliation(since: datetime) -> QuerySet[OrderEvent]:
    """Payments settled by reconciliation since ``since``: their notification never arrived. Newest first."""
    return OrderEvent.objects.filter(
        new_status=OrderStatus.PAID, source=OrderEvent.Source.RECONCILIATION, created_at__gte=since
    ).order_by("-created_at", "-id")


def old_pending_orders(older_than: datetime) -> QuerySet[Order]:
    """Orders still pending that were created before ``older_than``, the oldest first."""
    return Order.objects.filter(status=OrderStatus.PENDING, created_at__lt=older_than).order_by("created_at", "id")


def failing_deliveries() -> QuerySet[Delivery]:
    """Signal deliveries failing: ``pending`` (will retry) or ``failed`` (gave up); the oldest first."""
    return failed_deliveries().order_by("created_at", "id")


def stuck_refunds(older_than: datetime) -> QuerySet[Refund]:
    """Refunds still ``requested`` (DOKU never answered) that were asked for before ``older_than``, oldest first."""
    return Refund.objects.filter(status=Refund.Status.REQUESTED, created_at__lt=older_than).order_by("created_at", "id")


def last_reconciliation_run(*, finished: bool = False) -> ReconciliationRun | None:
    """The newest run of reconciliation; with ``finished``, the newest that finished without an error."""
    runs = ReconciliationRun.objects.order_by("-started_at", "-id")
    if finished:
        runs = runs.filter(finished_at__isnull=False, error="")
    return runs.first()


def newest_runs_per_host(since: datetime) -> QuerySet[ReconciliationRun]:
    """Each machine's newest finished run, among those that finished since ``since``, by host."""
    newest = (
        ReconciliationRun.objects.filter(host=OuterRef("host"), finished_at__isnull=False)
        .order_by("-started_at", "-id")
        .values("pk")[:1]
    )
    return ReconciliationRun.objects.filter(finished_at__gte=since, pk=Subquery(newest)).order_by("host")


def dead_runs(since: datetime, now: datetime) -> QuerySet[ReconciliationRun]:
    """Runs that never finished nor showed progress for :data:`CLAIM_LEASE`, last seen since ``since``: they died."""
    return (
        ReconciliationRun.objects.alias(seen=Coalesce("progress_at", "started_at"))
        .filter(finished_at__isnull=True, seen__gte=since, seen__lt=now - CLAIM_LEASE)
        .order_by("started_at", "id")
    )
