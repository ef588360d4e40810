"""The order admin: where shop staff create payment links, check payments and cancel orders."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout import payment_methods, services
from django_doku_checkout.admin import operations
from django_doku_checkout.admin.forms import OrderForm
from django_doku_checkout.admin.refunds import RefundAdmin, pending_refunds
from django_doku_checkout.conf import get_config
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import CheckoutSession, Delivery, LineItem, Order, OrderEvent, OrderStatus, Refund
from django_doku_checkout.services import states
from django_doku_checkout.services.cancellations import cancel_links_at_doku, unexpired
from django_doku_checkout.services.deliveries import failed_deliveries
from django_doku_checkout.services.locking import locked_rows
from django_doku_checkout.services.orders import new_invoice_number, withdraw_payment_links
from django_doku_checkout.services.sharing import qr_code_svg, record_delivery, whatsapp_url
from django_doku_checkout.services.unit_of_work import Writes
from django_doku_checkout.templatetags.doku_checkout import doku_order_status

if TYPE_CHECKING:
    OrderInline = admin.TabularInline[Any, Order]
    OrderFilter = admin.SimpleListFilter
else:  # the admin classes are not subscriptable at run time
    OrderInline = admin.TabularInline
    OrderFilter = admin.SimpleListFilter

#: Orders whose line items and amount staff may still change: no money has been taken.
EDITABLE_STATUSES = frozenset({OrderStatus.CREATED, OrderStatus.PENDING, OrderStatus.FAILED, OrderStatus.EXPIRED})


def _editable(order: Order | None) -> bool:
    """A new order, or one whose items and amount may still change (no money taken)."""
    return order is None or order.status in EDITABLE_STATUSES


MEDIA_CSS = {"all": ("django_doku_checkout/admin.css",)}
MEDIA_JS = ("django_doku_checkout/copy_link.js",)


def payment_link_html(url: str, *, payable: bool = True) -> SafeString | str:
    """A payment URL that opens in a new tab, with a button that copies it for the customer.

    Only a link that may be followed (:func:`services.payment_url_allowed`) of an order that
    can still be paid is offered; any other is shown as text, or not at all.
    """
    if not url:
        return "-"
    if not payable or not services.payment_url_allowed(url):
        return url if services.payment_url_allowed(url) else _("(a link to another host, not shown)")
    return format_html(
        '<a href="{}" target="_blank" rel="noopener noreferrer" class="doku-payment-url">{}</a> '
        '<button type="button" class="button doku-copy" data-doku-copy="{}">{}</button>',
        url,
        url,
        url,
        _("Copy link"),
    )


class LineItemFormSet(BaseInlineFormSet):  # type: ignore[type-arg]
    """Checks the order's amount against its line items, so DOKU never rejects the sum."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        total = sum(
            form.cleaned_data["price"] * form.cleaned_data["quantity"]
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        )
        amount = self.instance.amount
        if total and amount != total:
            raise ValidationError(
                _(
                    "The order's amount (%(amount)s) does not equal its line items' total (%(total)s). "
                    "DOKU refuses a payment whose items do not add up; correct the amount or the items."
                )
                % {"amount": format_rupiah(amount), "total": format_rupiah(total)},
                code="amount_mismatch",
            )


class LineItemInline(OrderInline):
    model = LineItem
    formset = LineItemFormSet
    extra = 0
    fields = ("name", "price", "quantity", "sku", "category")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Once money has been taken, the items are the record of what was sold.
        return _editable(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _editable(obj) and super().has_delete_permission(request, obj)


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


class DeliveryFailedFilter(OrderFilter):
    """Orders with a receiver that failed and has not succeeded since."""

    title = gettext_lazy("signal delivery")
    parameter_name = "delivery"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("failed", _("A receiver failed"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Order]) -> QuerySet[Order]:
        if self.value() != "failed":
            return queryset
        failed = Delivery.objects.filter(order=OuterRef("pk"), attempts__gt=0).exclude(status=Delivery.Status.DELIVERED)
        return queryset.filter(Exists(failed))


class PaymentMethodFilter(OrderFilter):
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


#: One operation behind a change-page button: run on some orders for a request.
Operation = Callable[[Sequence[Order], HttpRequest], list[operations.OrderResult]]


@admin.register(Order)
class OrderAdmin(RefundAdmin):
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
    list_filter = ("status", PaymentMethodFilter, "needs_review", DeliveryFailedFilter, "created_at")
    search_fields = ("invoice_number", "reference", "customer_name", "customer_email", "customer_phone")
    date_hierarchy = "created_at"
    readonly_fields = ("public_id", "status", "paid_at", "created_at", "updated_at", "needs_review", "review_reason")
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

    # --- the list ------------------------------------------------------------------------------

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

    @admin.display(description=gettext_lazy("customer"), ordering="customer_name")
    def customer(self, order: Order) -> SafeString | str:
        if not order.customer_email:
            return order.customer_name or "-"
        return format_html("{}<br><small>{}</small>", order.customer_name, order.customer_email)

    @admin.display(description=gettext_lazy("amount"), ordering="amount")
    def amount_display(self, order: Order) -> str:
        return format_rupiah(order.amount, order.currency)

    @admin.display(description=gettext_lazy("status"), ordering="status")
    def status_badge(self, order: Order) -> SafeString:
        badge = doku_order_status(order)
        if order.status in EDITABLE_STATUSES and getattr(order, "newest_link_outcome", "") == "FAILED":
            # DOKU lets the shopper try again on the same link, so the order stays payable;
            # staff still need to see that the last try failed.
            return format_html('{}<br><small class="doku-last-failed">{}</small>', badge, _("last attempt failed"))
        return badge

    @admin.display(description=gettext_lazy("latest payment link"))
    def latest_link(self, order: Order) -> SafeString | str:
        url = getattr(order, "newest_link_url", None)
        if not url or order.status in states.UNPAYABLE:
            return "-"
        expires_at = getattr(order, "newest_link_expires_at", None)
        status = CheckoutSession.Status(order.newest_link_status).label  # type: ignore[attr-defined]
        return format_html(
            "{}<br><small>{} · {}</small>",
            payment_link_html(url, payable=order.newest_link_status == CheckoutSession.Status.OPEN),  # type: ignore[attr-defined]
            status,
            _("expires %(moment)s") % {"moment": _local(expires_at)} if expires_at else _("no expiry"),
        )

    @transaction.non_atomic_requests  # its actions call DOKU: no request-wide transaction may hold them
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    # --- the form ------------------------------------------------------------------------------

    def get_readonly_fields(self, request: HttpRequest, obj: Order | None = None) -> tuple[str, ...]:
        fields = tuple(super().get_readonly_fields(request, obj))
        if not _editable(obj):
            # What DOKU was paid for is the record; it no longer changes.
            fields += ("invoice_number", "amount", "currency", "payment_method_types")
        return fields

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

    # --- actions -------------------------------------------------------------------------------

    def has_create_payment_link_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.create_payment_link")

    def _report(self, request: HttpRequest, title: str, results: list[operations.OrderResult]) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "results": results,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/django_doku_checkout/order/action_report.html", context)

    @admin.action(permissions=["create_payment_link"], description=gettext_lazy("Create DOKU payment links"))
    def create_payment_links(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        results = operations.create_payment_links(queryset, request=request, actor=request.user)
        return self._report(request, _("Payment links"), results)

    @admin.action(permissions=["create_payment_link"], description=gettext_lazy("Create card payment pages"))
    def create_card_payment_pages(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        results = operations.create_card_payment_pages(queryset, request=request, actor=request.user)
        return self._report(request, _("Card payment pages"), results)

    @admin.action(permissions=["create_payment_link"], description=gettext_lazy("Email payment links to customers"))
    def email_payment_links(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        results = operations.email_payment_links(queryset, request=request, actor=request.user)
        return self._report(request, _("Payment links e-mailed"), results)

    @admin.action(permissions=["change"], description=gettext_lazy("Check payment status at DOKU"))
    def check_status(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        return self._report(request, _("Payment status"), operations.check_statuses(queryset))

    @admin.action(permissions=["change"], description=gettext_lazy("Cancel unpaid orders"))
    def cancel_orders(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        return self._report(request, _("Cancelled orders"), operations.cancel_orders(queryset, actor=request.user))

    @admin.action(permissions=["change"], description=gettext_lazy("Retry failed signal deliveries now"))
    def retry_deliveries(self, request: HttpRequest, queryset: QuerySet[Order]) -> TemplateResponse:
        return self._report(request, _("Signal deliveries"), operations.retry_deliveries(queryset))

    # --- buttons on the change page ----------------------------------------------------------

    def _operations(self) -> dict[str, tuple[str, Operation]]:
        """The change page's buttons: URL slug -> (permission needed, what to run)."""
        return {
            "create-link": (
                "create_payment_link",
                lambda orders, request: operations.create_payment_links(orders, request=request, actor=request.user),
            ),
            "card-page": (
                "create_payment_link",
                lambda orders, request: operations.create_card_payment_pages(
                    orders, request=request, actor=request.user
                ),
            ),
            "email-link": (
                "create_payment_link",
                lambda orders, request: operations.email_payment_links(orders, request=request, actor=request.user),
            ),
            "check-status": ("change", lambda orders, request: operations.check_statuses(orders)),
            "cancel": ("change", lambda orders, request: operations.cancel_orders(orders, actor=request.user)),
            "retry-deliveries": ("change", lambda orders, request: operations.retry_deliveries(orders)),
        }

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        button = path(
            "<path:object_id>/doku/<slug:operation>/",
            # Operations call DOKU: no request-wide transaction (ATOMIC_REQUESTS) may hold them.
            transaction.non_atomic_requests(self.admin_site.admin_view(self.operation_view)),
            name="{}_{}_operation".format(*info),
        )
        refund = path(
            "<path:object_id>/doku/refund/",
            # A card refund calls DOKU: no request-wide transaction may hold it.
            transaction.non_atomic_requests(self.admin_site.admin_view(self.refund_view)),
            name="{}_{}_refund".format(*info),
        )
        resend = path(
            "<path:object_id>/doku/refund/<int:refund_id>/resend/",
            # A resend calls DOKU: no request-wide transaction may hold it.
            transaction.non_atomic_requests(self.admin_site.admin_view(self.refund_resend_view)),
            name="{}_{}_refund_resend".format(*info),
        )
        share = path(
            "<path:object_id>/doku/share/<slug:channel>/",
            self.admin_site.admin_view(self.share_view),
            name="{}_{}_share".format(*info),
        )
        # Before the default URLs: their "<path:object_id>/" pattern would swallow them.
        return [refund, resend, share, button, *super().get_urls()]

    def share_view(self, request: HttpRequest, object_id: str, channel: str) -> HttpResponse:
        """Hand the customer the order's live link: a full-size QR code to scan, or a WhatsApp message.

        The change page's buttons POST (with Django's CSRF check) and each such delivery is
        written into the order's history with the staff member, then answered with a redirect
        to this view's page: the QR code, or a page that opens ``wa.me`` with the message. A
        GET records nothing (a reload, or a link from another site, would forge entries). No
        link is created here: the buttons appear only while the order has one.
        """
        order = self.get_object(request, object_id)
        if order is None or channel not in ("qr", "whatsapp"):
            raise Http404(_("No such order or operation."))
        if not self.has_create_payment_link_permission(request, order):
            raise PermissionDenied
        change_url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk])
        live = services.live_link(order) if order.status not in states.UNPAYABLE else None
        if live is None or not services.payment_url_allowed(live.payment_url):
            self.message_user(request, _("The order has no live payment link: create one first."), messages.WARNING)
            return HttpResponseRedirect(change_url)
        if channel == "whatsapp":
            try:
                target = whatsapp_url(order, live)  # wa.me, built here: never a URL from the request
            except services.LinkNotShared as err:
                self.message_user(request, str(err), messages.WARNING)
                return HttpResponseRedirect(change_url)
            # Only WhatsApp was opened with the message: whether staff sent it, nobody here knows.
            note = _("Payment link %(invoice)s opened in WhatsApp for %(phone)s.") % {
                "invoice": live.invoice_number,
                "phone": order.customer_phone,
            }
        else:
            note = _("QR code of payment link %(invoice)s shown.") % {"invoice": live.invoice_number}
        if request.method == "POST":
            record_delivery(order, note, actor=request.user)
            # To this view's page, where a reload records nothing. Not to wa.me from here: a
            # shop's CSP `form-action` governs a form's redirects too, and would block it.
            return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": order,
            "link": live,
            "amount": format_rupiah(order.amount, order.currency),
            "media": self.media,
        }
        if channel == "whatsapp":
            context |= {"title": _("Send %(invoice)s by WhatsApp") % {"invoice": order.invoice_number}}
            response = TemplateResponse(
                request, "admin/django_doku_checkout/order/whatsapp.html", context | {"whatsapp_url": target}
            )
            response["Referrer-Policy"] = "no-referrer"  # WhatsApp is never told the admin's address
            return response
        context |= {
            "title": _("Scan to pay %(invoice)s") % {"invoice": order.invoice_number},
            "qr_code": qr_code_svg(live.payment_url, scale=8),
        }
        return TemplateResponse(request, "admin/django_doku_checkout/order/qr_code.html", context)

    def operation_view(self, request: HttpRequest, object_id: str, operation: str) -> HttpResponse:
        """Run one operation on one order from its change page, then go back there."""
        order = self.get_object(request, object_id)
        known = self._operations()
        if order is None or operation not in known:
            raise Http404(_("No such order or operation."))
        permission, run = known[operation]
        if request.method != "POST" or not getattr(self, f"has_{permission}_permission")(request, order):
            raise PermissionDenied
        for result in run([order], request):
            text = (
                format_html(
                    '{} <a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
                    result.message,
                    result.link,
                    result.link,
                )
                if result.link
                else result.message
            )
            self.message_user(request, text, result.level)
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[order.pk])
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Order | None = None,
    ) -> HttpResponse:
        if obj is not None:
            live = services.live_link(obj) if obj.status not in states.UNPAYABLE else None
            # Never offer a paid or cancelled order's leftover link, nor one to a foreign host.
            shown = live if live and services.payment_url_allowed(live.payment_url) else None
            context["doku_live_link"] = shown
            context["doku_live_link_qr"] = qr_code_svg(shown.payment_url) if shown else ""
            context["doku_can_create_links"] = self.has_create_payment_link_permission(request, obj)
            context["doku_can_change"] = self.has_change_permission(request, obj)
            context["doku_payable"] = obj.status not in states.UNPAYABLE
            context["doku_failed_deliveries"] = failed_deliveries().filter(order=obj).exists()
            can_refund = self.has_refund_payment_permission(request, obj)
            context["doku_can_refund"] = can_refund and services.refundable_amount(obj) > 0
            context["doku_pending_refunds"] = (
                [(refund, self._url("refund_resend", obj.pk, refund.pk)) for refund in pending_refunds(obj)]
                if can_refund
                else []
            )
        return super().render_change_form(request, context, add, change, form_url, obj)


def _local(moment: datetime) -> str:
    return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")
