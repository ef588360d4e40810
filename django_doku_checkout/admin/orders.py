"""The order admin: where shop staff create payment links, check payments and cancel orders.

The class itself holds the list's and the form's configuration; its parts live beside it:
:mod:`.inlines`, :mod:`.filters`, :mod:`.forms`, :mod:`.display` (columns and read-only
renderings), :mod:`.editing` (what staff may change and how the page is grouped) and
:mod:`.views` (actions, buttons, share pages; the refund views in :mod:`.refunds`).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.translation import gettext as _

from django_doku_checkout.admin import editing
from django_doku_checkout.admin.display import MEDIA_CSS, MEDIA_JS, OrderColumns
from django_doku_checkout.admin.filters import (
    DeliveryFailedFilter,
    PaidWithFilter,
    PaymentMethodFilter,
    RefundAskedFilter,
    RefundStatusFilter,
    SettledByFilter,
)
from django_doku_checkout.admin.forms import OrderForm
from django_doku_checkout.admin.inlines import (
    CheckoutSessionInline,
    DeliveryInline,
    LineItemInline,
    OrderEventInline,
    RefundInline,
)
from django_doku_checkout.admin.views import OrderViews
from django_doku_checkout.conf import get_config
from django_doku_checkout.models import CheckoutSession, Order, OrderStatus
from django_doku_checkout.services.cancellations import cancel_links_at_doku, unexpired
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.orders import new_invoice_number, withdraw_payment_links
from django_doku_checkout.services.unit_of_work import Writes

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec


@admin.register(Order)
class OrderAdmin(OrderColumns, OrderViews):
    form = OrderForm
    list_display = (
        "invoice_number",
        "reference",
        "customer",
        "amount_display",
        "status_badge",
        "latest_link",
        "created_at",
        "paid_at",
    )
    list_filter = (
        "status",
        PaymentMethodFilter,
        PaidWithFilter,
        SettledByFilter,
        RefundStatusFilter,
        ("refunds__created_at", RefundAskedFilter),
        "needs_review",
        DeliveryFailedFilter,
        "created_at",
    )
    search_fields = ("invoice_number", "reference", "customer_name", "customer_email", "customer_phone")
    date_hierarchy = "created_at"
    inlines = (LineItemInline, CheckoutSessionInline, RefundInline, OrderEventInline, DeliveryInline)
    actions = (
        "create_payment_links",
        "create_card_payment_pages",
        "email_payment_links",
        "check_status",
        "cancel_orders",
        "refund_payments",
        "retry_deliveries",
    )

    class Media:
        css = MEDIA_CSS
        js = MEDIA_JS

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        # The newest link is read with subqueries, so the list costs the same queries for
        # ten orders as for a million.
        newest = (
            CheckoutSession.objects.filter(order=OuterRef("pk"))
            .exclude(status=CheckoutSession.Status.ERROR)
            .order_by("-created_at", "-id")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                newest_link_url=Subquery(newest.values("payment_url")[:1]),
                newest_link_expires_at=Subquery(newest.values("expires_at")[:1]),
                newest_link_status=Subquery(newest.values("status")[:1]),
                newest_link_outcome=Subquery(newest.values("last_transaction_status")[:1]),
            )
        )

    # --- the form ------------------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Order | None = None) -> _FieldsetSpec:
        return editing.fieldsets(obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> tuple[str, ...]:
        return editing.readonly_fields(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        # An order DOKU has heard of is a financial record: cancel it instead. Without an
        # order (the bulk "delete selected" action) there is nothing to check, so no.
        if obj is None or obj.status != OrderStatus.CREATED or obj.checkout_sessions.exists():
            return False
        return super().has_delete_permission(request, obj)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        return {"invoice_number": new_invoice_number(), **super().get_changeform_initial_data(request)}

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Order | None:
        # Saving the form writes the whole row, status included. Locking the row as it is
        # read (the change and delete views run in one transaction) means a payment that
        # lands during the save is waited for and kept, never overwritten with the status
        # read before it; and the open links are withdrawn under the lock that guards them.
        # Views that run no transaction (the operation buttons, which call DOKU) lock nothing.
        if request.method == "POST" and from_field is None and transaction.get_connection().in_atomic_block:
            with contextlib.suppress(ValueError, ValidationError):  # not an id: the admin says so next
                list(locked_rows(Order.objects).filter(pk=object_id).values_list("pk", flat=True))
        return super().get_object(request, object_id, from_field)

    def save_model(self, request: HttpRequest, obj: Order, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if change and {"amount", "currency"} & set(form.changed_data):
            writes = Writes()
            withdrawn = withdraw_payment_links(obj, writes)
            writes.flush()
            if not withdrawn:
                return
            links = unexpired(withdrawn)
            if not get_config().cancel_at_doku:
                self.message_user(
                    request,
                    _(
                        "The amount changed, so the order's open payment link was withdrawn. Create a new one. "
                        "DOKU still accepts payment on the old link; such a payment is flagged for review."
                    ),
                    messages.WARNING,
                )
                return
            # The change view runs in one transaction: DOKU is asked once it has committed.
            transaction.on_commit(lambda: self._cancel_at_doku(request, obj, links))

    def _cancel_at_doku(self, request: HttpRequest, order: Order, links: list[CheckoutSession]) -> None:
        results = cancel_links_at_doku(links)
        refused = [f"{r.link.invoice_number}: {r.message}" for r in results if not r.cancelled]
        if refused:
            text = _(
                "The amount changed, so the order's open payment link was withdrawn, but DOKU could not cancel "
                "it and it can still be paid (such a payment is flagged for review): %(links)s."
            )
            self.message_user(request, text % {"links": "; ".join(refused)}, messages.WARNING)
        else:
            text = _("The amount changed, so the order's open payment link was withdrawn and cancelled at DOKU.")
            self.message_user(request, text, messages.WARNING)
