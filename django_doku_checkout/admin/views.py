"""The order admin's own pages: the list's actions, the change page's buttons and the share pages.

Each calls :mod:`.operations` (or the sharing services) and reports what became of each
order. :class:`~.orders.OrderAdmin` adds the list and the form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from django_doku_checkout import services
from django_doku_checkout.admin import operations
from django_doku_checkout.admin.refunds import RefundAdmin, pending_refunds
from django_doku_checkout.formatting import format_rupiah
from django_doku_checkout.models import CheckoutSession, Order
from django_doku_checkout.services import states
from django_doku_checkout.services.deliveries import failed_deliveries
from django_doku_checkout.services.sharing import qr_code_svg, record_delivery, whatsapp_url

#: One operation behind a change-page button: run on some orders for a request.
Operation = Callable[[Sequence[Order], HttpRequest], list[operations.OrderResult]]

#: The change page's buttons: URL slug -> (permission needed, what to run).
OPERATIONS: dict[str, tuple[str, Operation]] = {
    "create-link": (
        "create_payment_link",
        lambda orders, request: operations.create_payment_links(orders, request=request, actor=request.user),
    ),
    "card-page": (
        "create_payment_link",
        lambda orders, request: operations.create_card_payment_pages(orders, request=request, actor=request.user),
    ),
    "email-link": (
        "create_payment_link",
        lambda orders, request: operations.email_payment_links(orders, request=request, actor=request.user),
    ),
    "check-status": ("change", lambda orders, request: operations.check_statuses(orders)),
    "cancel": ("change", lambda orders, request: operations.cancel_orders(orders, actor=request.user)),
    "retry-deliveries": ("change", lambda orders, request: operations.retry_deliveries(orders)),
}


class OrderViews(RefundAdmin):
    """The actions, buttons and share pages of the order admin; the refund views come from RefundAdmin."""

    def has_create_payment_link_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.create_payment_link")

    @transaction.non_atomic_requests  # its actions call DOKU: no request-wide transaction may hold them
    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        return super().changelist_view(request, extra_context)

    # --- actions -------------------------------------------------------------------------------

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

    # --- the change page's buttons -------------------------------------------------------------

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

    def operation_view(self, request: HttpRequest, object_id: str, operation: str) -> HttpResponse:
        """Run one operation on one order from its change page, then go back there."""
        order = self.get_object(request, object_id)
        if order is None or operation not in OPERATIONS:
            raise Http404(_("No such order or operation."))
        permission, run = OPERATIONS[operation]
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
        return HttpResponseRedirect(self._url("change", order.pk))

    # --- sharing the live link -----------------------------------------------------------------

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
        live = services.live_link(order) if order.status not in states.UNPAYABLE else None
        if live is None or not services.payment_url_allowed(live.payment_url):
            self.message_user(request, _("The order has no live payment link: create one first."), messages.WARNING)
            return HttpResponseRedirect(self._url("change", order.pk))
        try:
            # wa.me, built here: never a URL from the request.
            target = whatsapp_url(order, live) if channel == "whatsapp" else ""
        except services.LinkNotShared as err:
            self.message_user(request, str(err), messages.WARNING)
            return HttpResponseRedirect(self._url("change", order.pk))
        if request.method == "POST":
            record_delivery(order, _share_note(order, live, channel), actor=request.user)
            # To this view's page, where a reload records nothing. Not to wa.me from here: a
            # shop's CSP `form-action` governs a form's redirects too, and would block it.
            return HttpResponseRedirect(request.path)
        return self._share_page(request, order, live, target)

    def _share_page(self, request: HttpRequest, order: Order, live: CheckoutSession, whatsapp: str) -> HttpResponse:
        """The QR code to scan, or (``whatsapp`` given) the page that opens WhatsApp with the message."""
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": order,
            "link": live,
            "amount": format_rupiah(order.amount, order.currency),
            "media": self.media,
        }
        if whatsapp:
            context |= {"title": _("Send %(invoice)s by WhatsApp") % {"invoice": order.invoice_number}}
            response = TemplateResponse(
                request, "admin/django_doku_checkout/order/whatsapp.html", context | {"whatsapp_url": whatsapp}
            )
            response["Referrer-Policy"] = "no-referrer"  # WhatsApp is never told the admin's address
            return response
        context |= {
            "title": _("Scan to pay %(invoice)s") % {"invoice": order.invoice_number},
            "qr_code": qr_code_svg(live.payment_url, scale=8),
        }
        return TemplateResponse(request, "admin/django_doku_checkout/order/qr_code.html", context)

    # --- the change page -----------------------------------------------------------------------

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
            context.update(self._doku_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _doku_context(self, request: HttpRequest, order: Order) -> dict[str, Any]:
        """What the change page's buttons and live-link box need."""
        live = services.live_link(order) if order.status not in states.UNPAYABLE else None
        # Never offer a paid or cancelled order's leftover link, nor one to a foreign host.
        shown = live if live and services.payment_url_allowed(live.payment_url) else None
        can_refund = self.has_refund_payment_permission(request, order)
        return {
            "doku_live_link": shown,
            "doku_live_link_qr": qr_code_svg(shown.payment_url) if shown else "",
            "doku_can_create_links": self.has_create_payment_link_permission(request, order),
            "doku_can_change": self.has_change_permission(request, order),
            "doku_payable": order.status not in states.UNPAYABLE,
            "doku_failed_deliveries": failed_deliveries().filter(order=order).exists(),
            "doku_can_refund": can_refund and services.refundable_amount(order) > 0,
            "doku_pending_refunds": (
                [(refund, self._url("refund_resend", order.pk, refund.pk)) for refund in pending_refunds(order)]
                if can_refund
                else []
            ),
        }


def _share_note(order: Order, live: CheckoutSession, channel: str) -> str:
    """What the order's history records of one share."""
    if channel == "whatsapp":
        # Only WhatsApp was opened with the message: whether staff sent it, nobody here knows.
        return _("Payment link %(invoice)s opened in WhatsApp for %(phone)s.") % {
            "invoice": live.invoice_number,
            "phone": order.customer_phone,
        }
    return _("QR code of payment link %(invoice)s shown.") % {"invoice": live.invoice_number}
