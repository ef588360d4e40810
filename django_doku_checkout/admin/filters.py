"""The order list's own filters: by the channel a payment used or was attempted with, the channel that
paid, failed signal deliveries, refunds, and what settled a payment.

The payments dashboard links each of its panels to the order list narrowed by one of them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout import payment_methods
from django_doku_checkout.models import CheckoutSession, Order, OrderEvent, OrderStatus, Refund
from django_doku_checkout.services.deliveries import failed_deliveries


class DeliveryFailedFilter(admin.SimpleListFilter):
    """Orders with a receiver that failed and has not succeeded since."""

    title = gettext_lazy("signal delivery")
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("failed", _("A receiver failed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() != "failed":
            return queryset
        return queryset.filter(Exists(failed_deliveries().filter(order=OuterRef("pk"))))


class PaymentMethodFilter(admin.SimpleListFilter):
    """Orders by the DOKU channel a payment was made or attempted with."""

    title = gettext_lazy("payment method")
    parameter_name = "payment_channel"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        channels = (
            CheckoutSession.objects.exclude(payment_channel="")
            .order_by("payment_channel")
            .values_list("payment_channel", flat=True)
            .distinct()
        )
        return [(channel, payment_methods.label(channel)) for channel in channels]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if not self.value():
            return queryset
        used = CheckoutSession.objects.filter(order=OuterRef("pk"), payment_channel=self.value())
        return queryset.filter(Exists(used))


#: The "paid with" filter's value for the orders paid through a link DOKU did not say the channel of.
UNREPORTED = "-"


class PaidWithFilter(PaymentMethodFilter):
    """Paid orders by the channel of their paying link (the dashboard's channel rows): the one that paid,
    not every one tried. :data:`UNREPORTED`: DOKU did not say the channel, or the paying link is gone."""

    title = gettext_lazy("paid with")
    parameter_name = "paid_with"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*super().lookups(request, model_admin), (UNREPORTED, _("Not reported by DOKU"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if not self.value():
            return queryset
        if self.value() == UNREPORTED:
            unreported = Q(paid_link__isnull=True) | Q(paid_link__payment_channel="")
            return queryset.filter(unreported, paid_at__isnull=False)
        return queryset.filter(paid_link__payment_channel=self.value())


#: The "refund asked" filter's lookups (:class:`RefundAskedFilter`), which a refund status filter keeps to.
REFUND_ASKED = ("refunds__created_at__gte", "refunds__created_at__lt")


class RefundStatusFilter(admin.SimpleListFilter):
    """Orders with a refund in one status (requested, succeeded, failed); with the "refund asked" filter
    set too, a refund in that status asked for in its window (not one refund in the status, another in it)."""

    title = gettext_lazy("refund")
    parameter_name = "refund"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in Refund.Status.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() not in Refund.Status.values:
            return queryset
        asked = {
            lookup.removeprefix("refunds__"): request.GET[lookup] for lookup in REFUND_ASKED if lookup in request.GET
        }
        return queryset.filter(Exists(Refund.objects.filter(order=OuterRef("pk"), status=self.value(), **asked)))


class RefundAskedFilter(admin.DateFieldListFilter):
    """Orders with a refund asked for in a window (``refunds__created_at``): the dashboard's refunds panel links
    to its 30 days' refunds, whatever their status."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.title = _("refund asked")


class SettledByFilter(admin.SimpleListFilter):
    """Orders whose payment was recorded from one source: DOKU's notification, reconciliation, a status check."""

    title = gettext_lazy("payment recorded by")
    parameter_name = "settled_by"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(str(value), str(label)) for value, label in OrderEvent.Source.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() not in OrderEvent.Source.values:
            return queryset
        paid = OrderEvent.objects.filter(order=OuterRef("pk"), new_status=OrderStatus.PAID, source=self.value())
        return queryset.filter(Exists(paid))
