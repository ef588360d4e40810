"""Admin for orders and DOKU's notification log. Payment actions come with the admin issue."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from django_doku_checkout.models import CheckoutSession, LineItem, Notification, Order, OrderEvent

if TYPE_CHECKING:
    OrderInline = admin.TabularInline[Any, Order]
    OrderModelAdmin = admin.ModelAdmin[Order]
    NotificationModelAdmin = admin.ModelAdmin[Notification]
else:  # the admin classes are not subscriptable at run time
    OrderInline = admin.TabularInline
    OrderModelAdmin = NotificationModelAdmin = admin.ModelAdmin


class LineItemInline(OrderInline):
    model = LineItem
    extra = 0
    fields = ("name", "price", "quantity", "sku", "category")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Once money may have moved, the items are the record of what was sold.
        return obj is None or obj.status == "created"

    has_add_permission = has_delete_permission = has_change_permission


class ReadOnlyInline(OrderInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CheckoutSessionInline(ReadOnlyInline):
    model = CheckoutSession
    fields = ("invoice_number", "kind", "status", "payment_url", "expires_at", "payment_channel", "error_message")
    readonly_fields = fields


class OrderEventInline(ReadOnlyInline):
    model = OrderEvent
    fields = ("created_at", "old_status", "new_status", "source", "actor", "note")
    readonly_fields = fields


@admin.register(Order)
class OrderAdmin(OrderModelAdmin):
    list_display = ("invoice_number", "customer_name", "amount", "status", "needs_review", "created_at", "paid_at")
    list_filter = ("status", "needs_review", "created_at")
    search_fields = ("invoice_number", "customer_name", "customer_email", "customer_phone")
    date_hierarchy = "created_at"
    readonly_fields = ("public_id", "status", "paid_at", "created_at", "updated_at", "review_reason")
    inlines = (LineItemInline, CheckoutSessionInline, OrderEventInline)


@admin.register(Notification)
class NotificationAdmin(NotificationModelAdmin):
    list_display = ("received_at", "invoice_number", "transaction_status", "signature_valid", "outcome", "order")
    list_filter = ("outcome", "signature_valid", "transaction_status")
    search_fields = ("invoice_number", "request_id")
    list_select_related = ("order",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
