"""The payments dashboard: how payments are going, at a glance, for staff who may view orders.

Registered as the admin of :class:`~django_doku_checkout.models.PaymentsDashboard` (a proxy
of ``Order`` with no table), so the admin index lists it in the app's block on any admin
site. Its one page reads :func:`~django_doku_checkout.services.dashboard.payments_dashboard`
and lays each panel out as a chart (:mod:`.charts`), its figures as text, and a link to the
admin list it summarises, narrowed to what the panel counts, for a reader that list's admin
lets in (text otherwise).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from django_doku_checkout import payment_methods
from django_doku_checkout.admin import charts
from django_doku_checkout.admin.filters import UNREPORTED
from django_doku_checkout.admin.read_only import ReadOnlyAdmin
from django_doku_checkout.formatting import format_moment, format_rupiah
from django_doku_checkout.models import Notification, Order, OrderEvent, OrderStatus, PaymentsDashboard, Refund
from django_doku_checkout.services.dashboard import Dashboard, PendingAge, as_stored, payments_dashboard

if TYPE_CHECKING:
    DashboardModelAdmin = admin.ModelAdmin[PaymentsDashboard]
else:  # the admin classes are not subscriptable at run time
    DashboardModelAdmin = admin.ModelAdmin

STYLESHEET = "django_doku_checkout/dashboard.css"


@admin.register(PaymentsDashboard)
class PaymentsDashboardAdmin(ReadOnlyAdmin, DashboardModelAdmin):
    """One read-only page, allowed to whoever may view (or change) orders; nothing to add, change or delete."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        label = Order._meta.app_label
        return request.user.has_perm(f"{label}.view_order") or request.user.has_perm(f"{label}.change_order")

    def get_urls(self) -> list[URLPattern]:
        # Only the "list", the index's link: the dashboard has no objects to add or change.
        name = f"{self.opts.app_label}_{self.opts.model_name}_changelist"
        return [path("", self.admin_site.admin_view(self.dashboard_view), name=name)]

    def dashboard_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        figures = payments_dashboard()
        links = Links(request, self.admin_site)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Payments dashboard"),
            "opts": self.opts,
            "stylesheet": STYLESHEET,
            "dashboard": figures,
            "as_of": format_moment(figures.now),
            "zone_note": zone_note(figures),
            "paid_amount": format_rupiah(figures.amount),
            **panels(figures, links),
        }
        return TemplateResponse(request, "admin/django_doku_checkout/dashboard.html", context)


def zone_note(figures: Dashboard) -> str:
    """What the page says when its days are not in the zone the admin's lists show times in
    (startproject's UTC, read as WIB here as the shopper's pages read it); else nothing."""
    lists = timezone.get_current_timezone()
    if _zone_name(lists) != settings.TIME_ZONE or _zone_name(lists) == _zone_name(figures.zone):
        return ""  # the shop's middleware activated the reader's own zone, or it is the dashboard's
    return _(
        "Days, hours and times here are %(days)s (%(zone)s), as shoppers read them; the admin's lists show "
        'times in %(lists)s, the project\'s TIME_ZONE: set TIME_ZONE = "%(zone)s" to read both in %(days)s.'
    ) % {
        "days": figures.now.astimezone(figures.zone).tzname(),
        "zone": _zone_name(figures.zone),
        "lists": figures.now.astimezone(lists).tzname(),
    }


def _zone_name(zone: tzinfo) -> str:
    return getattr(zone, "key", None) or str(zone)


class Links:
    """The admin lists the panels summarise, narrowed by their filters, on one admin site: each
    list only when the reader may open it (``""`` otherwise: the page shows its text, unlinked)."""

    def __init__(self, request: HttpRequest, site: admin.AdminSite) -> None:
        self.site = site.name
        self.orders_url = self._list(request, site, Order)
        self.notifications_url = self._list(request, site, Notification)

    def _list(self, request: HttpRequest, site: admin.AdminSite, model: type[Model]) -> str:
        """The model's list, if it is registered on ``site`` and its admin lets the reader view it."""
        if not site.is_registered(model) or not site.get_model_admin(model).has_view_or_change_permission(request):
            return ""
        return self._url(f"{model._meta.model_name}_changelist")

    def _url(self, name: str, *args: object) -> str:
        return reverse(f"admin:{Order._meta.app_label}_{name}", args=args, current_app=self.site)

    def order(self, pk: object) -> str:
        return self._url("order_change", pk) if self.orders_url else ""

    def orders(self, **lookups: str | datetime | None) -> str:
        return _with_query(self.orders_url, lookups)

    def notifications(self, **lookups: str | datetime | None) -> str:
        return _with_query(self.notifications_url, lookups)


def _with_query(url: str, lookups: dict[str, str | datetime | None]) -> str:
    if not url:
        return ""
    query = {
        key: as_stored(value).isoformat() if isinstance(value, datetime) else value for key, value in lookups.items()
    }
    return f"{url}?{urlencode({key: value for key, value in query.items() if value is not None})}"


def panels(figures: Dashboard, links: Links) -> dict[str, Any]:
    """Each panel's chart, table rows and link, from the figures."""
    return {
        **_payments(figures, links),
        **_channels(figures, links),
        **_pending(figures, links),
        **_refunds(figures, links),
        **_deliveries(figures, links),
        **_rejected(figures, links),
        **_reconciled(figures, links),
    }


def _day(moment: Any) -> str:
    return formats.date_format(moment, "MONTH_DAY_FORMAT")


def _payments_line(count: int, amount: int) -> str:
    return ngettext("%(count)d payment, %(amount)s", "%(count)d payments, %(amount)s", count) % {
        "count": count,
        "amount": format_rupiah(amount),
    }


def _payments(figures: Dashboard, links: Links) -> dict[str, Any]:
    days = figures.days
    hrefs = [links.orders(paid_at__gte=day.start, paid_at__lt=day.end) for day in days]
    titles = [f"{_day(day.day)}: {_payments_line(day.paid, day.amount)}" for day in days]
    top = format_rupiah(max((day.amount for day in days), default=0))
    return {
        "payments_chart": charts.columns([day.amount for day in days], titles, hrefs, top=top),
        "payments_rows": [
            (_day(day.day), day.paid, format_rupiah(day.amount), href) for day, href in zip(days, hrefs, strict=True)
        ],
        "payments_url": links.orders(paid_at__gte=figures.since),
        "first_day": _day(days[0].day),
        "last_day": _day(days[-1].day),
    }


def _shares(parts: Sequence[int]) -> list[str]:
    """Each part's whole percent of their sum, adding up to 100 % (largest remainder: the points
    rounding down leaves go to the parts it cut most, the first of equals first)."""
    whole = sum(parts)
    if not whole:
        return ["0%"] * len(parts)
    percents = [part * 100 // whole for part in parts]
    cut_most = sorted(range(len(parts)), key=lambda index: -(parts[index] * 100 % whole))
    for index in cut_most[: 100 - sum(percents)]:
        percents[index] += 1
    return [formats.number_format(percent, 0) + "%" for percent in percents]


def _share(part: int, whole: int) -> str:
    return _shares([part, whole - part])[0]


def _channels(figures: Dashboard, links: Links) -> dict[str, Any]:
    shares = _shares([channel.paid for channel in figures.channels])
    labels = [payment_methods.label(c.code) if c.code else _("Not reported by DOKU") for c in figures.channels]
    shown = [f"{channel.paid} ({share})" for channel, share in zip(figures.channels, shares, strict=True)]
    hrefs = [
        links.orders(paid_with=channel.code or UNREPORTED, paid_at__gte=figures.since) for channel in figures.channels
    ]
    return {
        "channels_chart": charts.rows([channel.paid for channel in figures.channels], labels, shown, hrefs),
        "channels_rows": [
            (label, channel.paid, share, format_rupiah(channel.amount), href)
            for label, channel, share, href in zip(labels, figures.channels, shares, hrefs, strict=True)
        ],
    }


def _age_label(age: PendingAge) -> str:
    hours = [None if limit is None else int(limit.total_seconds() // 3600) for limit in (age.youngest, age.oldest)]
    youngest, oldest = hours
    if youngest is None and oldest is not None:
        return ngettext("Under %(hours)d hour", "Under %(hours)d hours", oldest) % {"hours": oldest}
    if oldest is None and youngest is not None:
        return ngettext("Over %(days)d day", "Over %(days)d days", youngest // 24) % {"days": youngest // 24}
    if youngest is not None and oldest is not None and oldest <= 24:
        return _("%(low)d to %(high)d hours") % {"low": youngest, "high": oldest}
    return _("%(low)d to %(high)d days") % {"low": (youngest or 0) // 24, "high": (oldest or 0) // 24}


def _pending(figures: Dashboard, links: Links) -> dict[str, Any]:
    labels = [_age_label(age) for age in figures.pending]
    hrefs = [
        links.orders(status=OrderStatus.PENDING, created_at__gte=age.since, created_at__lt=age.until)
        for age in figures.pending
    ]
    counts = [age.orders for age in figures.pending]
    return {
        "pending_chart": charts.rows(counts, labels, [str(count) for count in counts], hrefs),
        "pending_rows": list(zip(labels, counts, hrefs, strict=True)),
        "pending_url": links.orders(status=OrderStatus.PENDING),
    }


def _refunds(figures: Dashboard, links: Links) -> dict[str, Any]:
    labels = [str(Refund.Status(total.status).label) for total in figures.refunds]
    hrefs = [links.orders(refund=total.status, refunds__created_at__gte=figures.since) for total in figures.refunds]
    shown = [
        ngettext("%(count)d order, %(amount)s", "%(count)d orders, %(amount)s", total.orders)
        % {"count": total.orders, "amount": format_rupiah(total.amount)}
        for total in figures.refunds
    ]
    return {
        "refunds_chart": charts.rows([total.orders for total in figures.refunds], labels, shown, hrefs),
        "refunds_rows": [
            (label, total.orders, total.refunds, format_rupiah(total.amount), href)
            for label, total, href in zip(labels, figures.refunds, hrefs, strict=True)
        ],
        "refunds_url": links.orders(refunds__created_at__gte=figures.since),
        "recent_refunds": [
            (
                refund.order.invoice_number,
                links.order(refund.order_id),
                format_rupiah(refund.amount),
                refund.get_status_display(),
                format_moment(refund.created_at),
            )
            for refund in figures.recent_refunds
        ],
    }


def _deliveries(figures: Dashboard, links: Links) -> dict[str, Any]:
    counts = [receiver.retrying + receiver.gave_up for receiver in figures.failing]
    labels = [receiver.receiver.rsplit(".", 1)[-1] for receiver in figures.failing]
    shown = [
        _("%(retrying)d will retry, %(gave_up)d gave up") % {"retrying": r.retrying, "gave_up": r.gave_up}
        for r in figures.failing
    ]
    url = links.orders(delivery="failed")
    return {
        # unlinked: a receiver's figures count its deliveries; the list the title opens, orders
        "deliveries_chart": charts.rows(counts, labels, shown),
        "deliveries_figure": ngettext(
            "order with a receiver failing", "orders with a receiver failing", figures.failing_orders
        ),
        "deliveries_rows": [(r.receiver, r.retrying, r.gave_up) for r in figures.failing],
        "deliveries_url": url,
    }


def _hour(moment: datetime) -> str:
    return f"{_day(moment)}, {moment:%H}:00"


def _rejected(figures: Dashboard, links: Links) -> dict[str, Any]:
    hours = figures.hours
    titles = [
        ngettext("%(hour)s: %(count)d rejected", "%(hour)s: %(count)d rejected", hour.rejected)
        % {"hour": _hour(hour.start), "count": hour.rejected}
        for hour in hours
    ]
    hrefs = [
        links.notifications(
            outcome=Notification.Outcome.REJECTED,
            received_at__gte=hour.start,
            received_at__lt=hour.start + timedelta(hours=1),
        )
        for hour in hours
    ]
    return {
        "rejected_chart": charts.columns(
            [hour.rejected for hour in hours], titles, top=str(max((hour.rejected for hour in hours), default=0))
        ),
        "rejected_rows": [
            (_hour(hour.start), hour.rejected, href) for hour, href in zip(hours, hrefs, strict=True) if hour.rejected
        ],
        "rejected_url": links.notifications(outcome=Notification.Outcome.REJECTED, received_at__gte=hours[0].start),
        "first_hour": _hour(hours[0].start),
        "last_hour": _hour(hours[-1].start),
    }


def _reconciled(figures: Dashboard, links: Links) -> dict[str, Any]:
    days = figures.days
    titles = [
        _("%(day)s: %(settled)d of %(paid)d payments settled by reconciliation")
        % {"day": _day(day.day), "settled": day.reconciled, "paid": day.paid}
        for day in days
    ]
    hrefs = [
        links.orders(settled_by=OrderEvent.Source.RECONCILIATION, paid_at__gte=day.start, paid_at__lt=day.end)
        for day in days
    ]
    return {
        "reconciled_chart": charts.columns(
            [day.reconciled for day in days], titles, hrefs, top=str(max((day.reconciled for day in days), default=0))
        ),
        "reconciled_rows": [
            (_day(day.day), day.reconciled, day.paid, href)
            for day, href in zip(days, hrefs, strict=True)
            if day.reconciled
        ],
        "reconciled_url": links.orders(settled_by=OrderEvent.Source.RECONCILIATION, paid_at__gte=figures.since),
        "reconciled_share": _share(figures.reconciled, figures.paid),
    }
