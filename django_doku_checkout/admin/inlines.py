"""The order page's inlines: its line items (editable until money is taken) and DOKU's answers, read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout.admin.display import payment_link_html
from django_doku_checkout.admin.editing import editable
from django_doku_checkout.admin.forms import LineItemFormSet
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import CheckoutSession, Delivery, LineItem, Order, OrderEvent, Refund
from django_doku_checkout.services import states

if TYPE_CHECKING:
    OrderInline = admin.TabularInline[Any, Order]
else:  # the admin classes are not subscriptable at run time
    OrderInline = admin.TabularInline


class LineItemInline(OrderInline):
    model = LineItem
    formset = LineItemFormSet
    extra = 0
    fields = ("name", "price", "quantity", "sku", "category")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Once money has been taken, the items are the record of what was sold.
        return editable(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return editable(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return editable(obj) and super().has_delete_permission(request, obj)


class ReadOnlyInline(OrderInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CheckoutSessionInline(ReadOnlyInline):
    model = CheckoutSession
    verbose_name_plural = gettext_lazy("Payment links")
    fields = ("invoice_number", "kind", "status", "link", "expires_at", "outcome", "created_at")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("payment URL"))
    def link(self, obj: CheckoutSession) -> SafeString | str:
        payable = obj.status == CheckoutSession.Status.OPEN and obj.order.status not in states.UNPAYABLE
        return payment_link_html(obj.payment_url, payable=payable)

    @admin.display(description=gettext_lazy("outcome"))
    def outcome(self, link: CheckoutSession) -> str:
        parts = [link.last_transaction_status, link.payment_channel, link.error_message]
        if link.cancelled_at_doku:
            parts.append(_("cancelled at DOKU"))
        if link.doku_cancel_error:
            parts.append(_("DOKU did not cancel it: %(reason)s") % {"reason": link.doku_cancel_error})
        return " · ".join(part for part in parts if part) or "-"


class RefundInline(ReadOnlyInline):
    """The order's refunds: asked of DOKU, recorded by hand, or reported by DOKU."""

    model = Refund
    fk_name = "order"
    verbose_name_plural = gettext_lazy("Refunds")
    fields = (
        "created_at",
        "amount_display",
        "status",
        "method",
        "link",
        "reason",
        "actor",
        "doku_reference",
        "refund_type",
        "error_message",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("amount"))
    def amount_display(self, refund: Refund) -> str:
        return format_rupiah(refund.amount, refund.order.currency)

    @admin.display(description=gettext_lazy("payment link refunded"))
    def link(self, refund: Refund) -> str:
        return refund.checkout_session.invoice_number


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    verbose_name_plural = gettext_lazy("History")
    fields = ("created_at", "old_status", "new_status", "source", "actor", "note")
    readonly_fields = fields


class DeliveryInline(ReadOnlyInline):
    """What the order's changes announced to the shop's receivers, and which of them failed."""

    model = Delivery
    verbose_name_plural = gettext_lazy("Signal deliveries")
    fields = ("created_at", "signal", "receiver", "status", "attempts", "next_attempt_at", "error")
    readonly_fields = fields

    @admin.display(description=gettext_lazy("last error"))
    def error(self, delivery: Delivery) -> SafeString | str:
        # The traceback's last line says what went wrong; the full text is on the row.
        lines = delivery.last_error.strip().splitlines()
        return lines[-1] if lines else "-"
