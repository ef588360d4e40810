"""The payments dashboard's figures: how payments went over the last days, read in a fixed number of queries.

Every figure is aggregated by the database (``Count``/``Sum`` grouped by ``TruncDate``/
``TruncHour`` in the shop's zone) over a window bounded by time, or over rows a status
bounds (pending orders, failing deliveries), so the page costs the same few queries for ten
orders as for a million. Days and hours are the shop's: the project's ``TIME_ZONE``, read
as WIB while it is startproject's UTC (:func:`~django_doku_checkout.formatting.shoppers_timezone`).

The rows counted are the health check's (:mod:`.health_facts`), read through its querysets and
grouped here. Each figure counts what the admin list its panel links to lists: orders (paid
through a channel, pending, with a refund in a status, with a receiver failing), the figures of
refunds and deliveries beside them say so. A *failing delivery* is one whose status is ``pending`` (failed, will retry) or
``failed`` (gave up); a *rejected notification* has the outcome ``rejected`` (its signature
or Client-Id was wrong); a payment *settled by reconciliation* is an ``OrderEvent`` to
``paid`` with the source ``reconciliation``: DOKU's notification for it never arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate, TruncHour
from django.utils import timezone

from django_doku_checkout.formatting import shoppers_timezone
from django_doku_checkout.models import Delivery, Order, OrderStatus, Refund
from django_doku_checkout.services import health_facts

#: The days the daily panels cover, today included.
DAYS = 30
#: The hours the rejected notifications are counted over, this hour included.
HOURS = 48
#: How many of the newest refunds are listed.
RECENT_REFUNDS = 5
#: The ages pending orders are grouped by: (youngest, oldest), an open end as None.
PENDING_AGES: tuple[tuple[timedelta | None, timedelta | None], ...] = (
    (None, timedelta(hours=1)),
    (timedelta(hours=1), timedelta(days=1)),
    (timedelta(days=1), timedelta(days=7)),
    (timedelta(days=7), None),
)


@dataclass(frozen=True)
class Day:
    """One of the shop's days: the payments taken on it, and how many of them reconciliation settled."""

    day: date
    start: datetime
    end: datetime
    paid: int
    amount: int
    reconciled: int


@dataclass(frozen=True)
class Channel:
    """The orders paid through one DOKU channel: their paying link's (``""`` when DOKU did not say which,
    or the order has no paying link any more)."""

    code: str
    paid: int
    amount: int


@dataclass(frozen=True)
class PendingAge:
    """Orders still pending whose age is in ``[youngest, oldest)``: created between ``since`` and ``until``."""

    youngest: timedelta | None
    oldest: timedelta | None
    since: datetime | None
    until: datetime | None
    orders: int


@dataclass(frozen=True)
class RefundTotal:
    """The refunds asked for in the window that have one status, their amount, and the orders they refund."""

    status: str
    orders: int
    refunds: int
    amount: int


@dataclass(frozen=True)
class FailingReceiver:
    """A signal receiver with deliveries failing: ``retrying`` will be tried again, ``gave_up`` will not."""

    receiver: str
    retrying: int
    gave_up: int


@dataclass(frozen=True)
class Hour:
    """One hour of the shop's clock and the notifications rejected in it."""

    start: datetime
    rejected: int


@dataclass(frozen=True)
class Dashboard:
    """Every panel's figures, read at ``now`` in ``zone``."""

    now: datetime
    zone: tzinfo
    days: list[Day]
    channels: list[Channel]
    pending: list[PendingAge]
    refunds: list[RefundTotal]
    recent_refunds: list[Refund]
    failing: list[FailingReceiver]
    #: The orders with a delivery failing, to any receiver.
    failing_orders: int
    hours: list[Hour]

    @property
    def since(self) -> datetime:
        """The start of the first day shown."""
        return self.days[0].start

    @property
    def paid(self) -> int:
        return sum(day.paid for day in self.days)

    @property
    def amount(self) -> int:
        return sum(day.amount for day in self.days)

    @property
    def reconciled(self) -> int:
        return sum(day.reconciled for day in self.days)

    @property
    def pending_orders(self) -> int:
        return sum(age.orders for age in self.pending)

    @property
    def rejected(self) -> int:
        return sum(hour.rejected for hour in self.hours)

    @property
    def failing_deliveries(self) -> int:
        return sum(receiver.retrying + receiver.gave_up for receiver in self.failing)


def payments_dashboard(*, now: datetime | None = None) -> Dashboard:
    """The dashboard's figures at ``now`` (default: the current time), in eight queries whatever the data."""
    zone = _zone()
    now = now or timezone.now()
    if timezone.is_naive(now):  # USE_TZ = False
        now = timezone.make_aware(now, zone)
    days = _days(now, zone)
    since = as_stored(days[0][1])
    failing, failing_orders = _failing_receivers()
    return Dashboard(
        now=now,
        zone=zone,
        days=_payments_per_day(days, zone),
        channels=_channels(since),
        pending=_pending_by_age(now),
        refunds=_refunds_by_status(since),
        recent_refunds=list(
            Refund.objects.filter(created_at__gte=since)
            .select_related("order")
            .order_by("-created_at", "-id")[:RECENT_REFUNDS]
        ),
        failing=failing,
        failing_orders=failing_orders,
        hours=_rejected_per_hour(now, zone),
    )


def _zone() -> tzinfo:
    """The zone of the shop's days: :func:`shoppers_timezone`, or with ``USE_TZ = False`` the
    ``TIME_ZONE`` the database's naive times are in (it can group them by no other)."""
    return shoppers_timezone() if settings.USE_TZ else ZoneInfo(settings.TIME_ZONE or "UTC")


def as_stored(moment: datetime) -> datetime:
    """``moment`` as the database compares it: aware, or with ``USE_TZ = False`` naive in ``TIME_ZONE``."""
    return moment if settings.USE_TZ else timezone.make_naive(moment, ZoneInfo(settings.TIME_ZONE or "UTC"))


def _days(now: datetime, zone: tzinfo) -> list[tuple[date, datetime, datetime]]:
    """The last ``DAYS`` days of the shop's calendar, today last: each day, its first moment and the next day's."""
    today = timezone.localtime(now, zone).date()
    dates = [today - timedelta(days=back) for back in range(DAYS - 1, -1, -1)]
    return [(day, _midnight(day, zone), _midnight(day + timedelta(days=1), zone)) for day in dates]


def _midnight(day: date, zone: tzinfo) -> datetime:
    return datetime.combine(day, time.min).replace(tzinfo=zone)


def _payments_per_day(days: list[tuple[date, datetime, datetime]], zone: tzinfo) -> list[Day]:
    since = as_stored(days[0][1])
    paid = {
        row["day"]: row
        for row in Order.objects.filter(paid_at__gte=since)
        .annotate(day=TruncDate("paid_at", tzinfo=zone))
        .values("day")
        .annotate(paid=Count("pk"), amount=Sum("amount"))
        .order_by()
    }
    reconciled = {
        row["day"]: row["settled"]
        for row in health_facts.settled_by_reconciliation(since)
        .annotate(day=TruncDate("created_at", tzinfo=zone))
        .values("day")
        .annotate(settled=Count("pk"))
        .order_by()
    }
    return [
        Day(
            day=day,
            start=start,
            end=end,
            paid=paid[day]["paid"] if day in paid else 0,
            amount=paid[day]["amount"] if day in paid else 0,
            reconciled=reconciled.get(day, 0),
        )
        for day, start, end in days
    ]


def _channels(since: datetime) -> list[Channel]:
    # The window's orders joined to their paying links by key: with a few links PostgreSQL
    # hashes them all, with a million it looks up each order's link (its cost stays the window's).
    rows = (
        Order.objects.filter(paid_at__gte=since)
        .annotate(channel=Coalesce("paid_link__payment_channel", Value("")))
        .values("channel")
        .annotate(paid=Count("pk"), amount=Sum("amount"))
        .order_by("-paid", "channel")
    )
    return [Channel(code=row["channel"], paid=row["paid"], amount=row["amount"]) for row in rows]


def _pending_by_age(now: datetime) -> list[PendingAge]:
    def created(age: timedelta | None) -> datetime | None:
        return None if age is None else now - age

    buckets = {}
    for index, (youngest, oldest) in enumerate(PENDING_AGES):
        window = Q()
        if youngest is not None:
            window &= Q(created_at__lt=as_stored(now - youngest))
        if oldest is not None:
            window &= Q(created_at__gte=as_stored(now - oldest))
        buckets[f"age{index}"] = Count("pk", filter=window)
    counts = Order.objects.filter(status=OrderStatus.PENDING).aggregate(**buckets)
    return [
        PendingAge(
            youngest=youngest,
            oldest=oldest,
            since=created(oldest),
            until=created(youngest),
            orders=counts[f"age{index}"],
        )
        for index, (youngest, oldest) in enumerate(PENDING_AGES)
    ]


def _refunds_by_status(since: datetime) -> list[RefundTotal]:
    rows = {
        row["status"]: row
        for row in Refund.objects.filter(created_at__gte=since)
        .values("status")
        .annotate(orders=Count("order", distinct=True), refunds=Count("pk"), amount=Sum("amount"))
        .order_by()
    }
    return [
        RefundTotal(
            status=status,
            orders=rows[status]["orders"] if status in rows else 0,
            refunds=rows[status]["refunds"] if status in rows else 0,
            amount=rows[status]["amount"] if status in rows else 0,
        )
        for status in Refund.Status.values
    ]


def _failing_receivers() -> tuple[list[FailingReceiver], int]:
    """The receivers with deliveries failing, and the orders those deliveries are for: one query, every
    row carrying the orders of all receivers (an order failing for two receivers, or twice for one, is one)."""
    every = Value(1)  # grouped by nothing: one row, the count over every failing delivery
    orders = health_facts.failing_deliveries().order_by().annotate(every=every).values("every")
    rows = list(
        health_facts.failing_deliveries()
        .values("receiver")
        .annotate(
            retrying=Count("pk", filter=Q(status=Delivery.Status.PENDING)),
            gave_up=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
            orders=Subquery(orders.annotate(orders=Count("order", distinct=True)).values("orders")),
        )
        .order_by("receiver")
    )
    receivers = [FailingReceiver(receiver=r["receiver"], retrying=r["retrying"], gave_up=r["gave_up"]) for r in rows]
    return receivers, rows[0]["orders"] if rows else 0


def _rejected_per_hour(now: datetime, zone: tzinfo) -> list[Hour]:
    this_hour = timezone.localtime(now, zone).replace(minute=0, second=0, microsecond=0)
    starts = [this_hour - timedelta(hours=back) for back in range(HOURS - 1, -1, -1)]
    counted = {
        _wall_clock(row["hour"], zone): row["rejected"]
        for row in health_facts.rejected_notifications(as_stored(starts[0]))
        .annotate(hour=TruncHour("received_at", tzinfo=zone))
        .values("hour")
        .annotate(rejected=Count("pk"))
        .order_by()
    }
    return [Hour(start=start, rejected=counted.get(start.replace(tzinfo=None), 0)) for start in starts]


def _wall_clock(moment: datetime, zone: tzinfo) -> datetime:
    """``moment`` as a naive time on the shop's clock (the database gives it naive with ``USE_TZ = False``)."""
    return moment if timezone.is_naive(moment) else moment.astimezone(zone).replace(tzinfo=None)
